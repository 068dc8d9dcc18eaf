# Switchyard container image: multi-stage, non-root, the project's Node (24 LTS), SIGTERM drain.
# Build: docker build -t switchyard .
# Run:   docker run -p 8080:8080 -v $PWD/gateway.yaml:/etc/switchyard/gateway.yaml:ro switchyard
# (CI does not run Docker; see docs/deployment.md.)

FROM node:24-bookworm-slim AS build
WORKDIR /app
# npm ci runs `prepare`, which compiles TypeScript: the sources must be there first.
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src src
COPY plugins plugins
COPY routes routes
COPY bin bin
COPY config config
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
COPY config config
# The image's own user, not root; ports above 1024, so no capability is needed.
USER node
EXPOSE 8080 8443 9901
# Readiness, not liveness: a draining instance (SIGTERM, POST /api/drain) reports unhealthy at
# once, so an orchestrator or an outer balancer stops sending before the listeners close.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9901/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# switchyard drains in-flight requests on SIGTERM (server.shutdownDelay, then shutdownTimeout):
# give `docker stop -t` more than their sum.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--max-semi-space-size=16", "bin/switchyard.js"]
CMD ["start", "-c", "/etc/switchyard/gateway.yaml"]
