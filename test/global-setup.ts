// Runs once before the suite: say which Node runs the tests (the project pins Node 24 through
// the `node` npm package; the machine's own node may be older).
export default function setup(): void {
  // eslint-disable-next-line no-console
  console.log(`switchyard tests on Node ${process.version} (${process.execPath})`)
  const major = Number(process.versions.node.split('.')[0])
  if (major < 22) {
    throw new Error(`tests must run on Node >= 22 (the pinned node package); got ${process.version}. Run them with \`npm test\`.`)
  }
}
