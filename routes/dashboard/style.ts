/** The dashboard's stylesheet (inlined into the page; no external assets). */
export const dashboardCss = String.raw`
:root {
  --bg: #f5f7fa; --panel: #ffffff; --ink: #1b2430; --muted: #627085; --line: #e3e8ef;
  --brand: #2b59c3; --brand-ink: #ffffff; --ok: #1a7f4b; --ok-bg: #e3f5eb; --warn: #9a6700; --warn-bg: #fff4d6;
  --bad: #b42318; --bad-bg: #fde8e6; --idle: #8391a7; --idle-bg: #eef1f5;
  --s1: #2b59c3; --s2: #e07a1f; --s3: #7a4dc9; --s4: #1a8f86; --s5: #c2417a; --s6: #5b7a1a;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 14px; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
header.top { display: flex; align-items: center; gap: 16px; padding: 12px 24px; background: #16213a; color: #e8edf7; }
header.top .logo { font-weight: 700; font-size: 17px; letter-spacing: .3px; display: flex; align-items: center; gap: 8px; }
header.top .logo .mark { width: 22px; height: 22px; border-radius: 6px; background: linear-gradient(135deg, #4f7df0, #2b59c3); display: inline-block; position: relative; }
header.top .logo .mark::after { content: ""; position: absolute; left: 5px; right: 5px; top: 10px; height: 2px; background: #fff; box-shadow: 0 -5px 0 #fff, 0 5px 0 #fff; }
header.top .meta { color: #aab6cc; font-size: 13px; display: flex; gap: 14px; align-items: center; }
header.top .spacer { flex: 1; }
header.top button { background: transparent; color: #e8edf7; border: 1px solid #3a4968; }
header.top button:hover { background: #223054; }
.live { display: inline-flex; align-items: center; gap: 6px; }
.live .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--idle); }
.live.on .dot { background: #3ccf7e; box-shadow: 0 0 0 3px rgba(60, 207, 126, .2); }
.live.off .dot { background: #f0645a; }
main { padding: 20px 24px 40px; max-width: 1400px; margin: 0 auto; display: grid; gap: 20px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 16px; }
.tile { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
.tile .value { font-size: 26px; font-weight: 650; margin-top: 4px; font-variant-numeric: tabular-nums; }
.tile .sub { color: var(--muted); font-size: 12px; margin-top: 2px; }
section.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; overflow: hidden; }
section.panel > h2 { margin: 0; padding: 12px 16px; font-size: 14px; font-weight: 650; border-bottom: 1px solid var(--line); display: flex; align-items: center; gap: 10px; }
section.panel > h2 .hint { color: var(--muted); font-weight: 400; font-size: 12px; }
.cols { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 20px; align-items: start; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 8px 16px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { color: var(--muted); font-weight: 500; font-size: 12px; text-transform: uppercase; letter-spacing: .5px; background: #fafbfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:last-child td { border-bottom: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.name { font-weight: 600; }
.muted { color: var(--muted); }
.pill { display: inline-block; padding: 2px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; line-height: 18px; white-space: nowrap; }
.pill.ok { color: var(--ok); background: var(--ok-bg); }
.pill.warn { color: var(--warn); background: var(--warn-bg); }
.pill.bad { color: var(--bad); background: var(--bad-bg); }
.pill.idle { color: var(--idle); background: var(--idle-bg); }
.split + .muted { font-size: 12px; margin-top: 3px; }
.split { display: flex; height: 22px; border-radius: 6px; overflow: hidden; min-width: 180px; background: var(--idle-bg); }
.split > span { color: #fff; font-size: 11.5px; font-weight: 600; display: flex; align-items: center; justify-content: center; white-space: nowrap; overflow: hidden; padding: 0 6px; }
.pools { display: grid; grid-template-columns: repeat(auto-fill, minmax(700px, 1fr)); gap: 16px; padding: 16px; }
.pool { border: 1px solid var(--line); border-radius: 8px; overflow-x: auto; }
.pool > header { display: flex; align-items: center; gap: 10px; padding: 10px 14px; background: #fafbfd; border-bottom: 1px solid var(--line); }
.pool > header .sub { color: var(--muted); font-size: 12px; }
.pool > header .right { margin-left: auto; display: flex; gap: 12px; color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.pool td, .pool th { padding: 7px 10px; }
.pool td:first-child, .pool th:first-child { padding-left: 14px; }
.pool td:last-child, .pool th:last-child { padding-right: 14px; }
.weight { color: var(--muted); font-size: 11.5px; margin-left: 6px; }
button { font: inherit; border-radius: 6px; border: 1px solid var(--line); background: #fff; color: var(--ink); padding: 6px 12px; cursor: pointer; }
button:hover { background: #f0f3f8; }
button.primary { background: var(--brand); color: var(--brand-ink); border-color: var(--brand); }
button.primary:hover { background: #244ca8; }
button.danger { color: var(--bad); border-color: #f3c2bd; }
button.danger:hover { background: var(--bad-bg); }
button.small { padding: 3px 10px; font-size: 12.5px; }
form.inline { display: flex; gap: 8px; align-items: center; padding: 14px 16px; flex-wrap: wrap; }
input[type=text], input[type=password], input[type=number], select { font: inherit; padding: 6px 10px; border: 1px solid #cfd6e0; border-radius: 6px; background: #fff; color: var(--ink); }
input[type=number] { width: 90px; text-align: right; }
.msg { padding: 0 16px 14px; font-size: 13px; min-height: 18px; }
.msg.ok { color: var(--ok); } .msg.bad { color: var(--bad); }
.reloads { list-style: none; margin: 0; padding: 6px 0; }
.reloads li { padding: 8px 16px; border-bottom: 1px solid var(--line); display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.reloads li:last-child { border-bottom: 0; }
.reloads .problems { flex-basis: 100%; color: var(--bad); font-size: 12px; }
dialog { border: 1px solid var(--line); border-radius: 12px; padding: 0; width: 420px; max-width: calc(100vw - 24px); box-shadow: 0 20px 50px rgba(16, 24, 40, .25); }
dialog::backdrop { background: rgba(16, 24, 40, .45); }
dialog h3 { margin: 0; padding: 14px 18px; border-bottom: 1px solid var(--line); font-size: 15px; }
dialog .body { padding: 14px 18px; display: grid; gap: 10px; }
dialog .row { display: flex; align-items: center; justify-content: space-between; gap: 10px; }
dialog .actions { display: flex; justify-content: flex-end; gap: 8px; padding: 12px 18px; border-top: 1px solid var(--line); background: #fafbfd; }
.banner { background: var(--bad-bg); color: var(--bad); border: 1px solid #f3c2bd; border-radius: 8px; padding: 10px 14px; }
.hidden { display: none !important; }
.scroll { overflow-x: auto; }
.banner-ok { background: var(--ok-bg); color: var(--ok); border: 1px solid #b7e4c7; border-radius: 8px; padding: 10px 14px; white-space: pre-wrap; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 16px; padding: 14px 16px; }
.charts figure { margin: 0; min-width: 0; }
.charts figcaption { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .5px; margin-bottom: 6px; }
svg.chart { width: 100%; height: 120px; display: block; background: #fafbfd; border: 1px solid var(--line); border-radius: 6px; }
.legend { display: flex; gap: 12px; flex-wrap: wrap; font-size: 12px; color: var(--muted); margin-top: 4px; }
.legend .sw { display: inline-block; width: 10px; height: 3px; border-radius: 2px; margin-right: 4px; vertical-align: middle; }
.events { list-style: none; margin: 0; padding: 6px 0; max-height: 360px; overflow-y: auto; }
.events li { padding: 7px 16px; border-bottom: 1px solid var(--line); display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; font-size: 13px; }
.events li:last-child { border-bottom: 0; }
.events .detail { color: var(--muted); overflow-wrap: anywhere; }
tr.unmatched td { background: #fbfbf4; }
select#chart-scope { margin-left: 6px; font-size: 12.5px; padding: 2px 6px; }
@media (max-width: 1000px) { .cols { grid-template-columns: 1fr; } .tiles { grid-template-columns: repeat(2, minmax(0, 1fr)); } .pools { grid-template-columns: 1fr; } }
@media (max-width: 600px) {
  header.top { flex-wrap: wrap; gap: 8px 12px; padding: 10px 12px; }
  header.top .meta { flex-basis: 100%; order: 5; }
  main { padding: 12px 10px 30px; gap: 12px; }
  .tiles { gap: 8px; } .tile { padding: 10px 12px; } .tile .value { font-size: 20px; }
  .pools { padding: 8px; }
  th, td { padding: 6px 8px; }
  .split { min-width: 110px; }
  section.panel > h2 { flex-wrap: wrap; }
}
`
