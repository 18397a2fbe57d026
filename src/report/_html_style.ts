/**
 * The stylesheet inlined into `report.html`: plain CSS, system fonts, no
 * external resources; prints cleanly and reads on a phone.
 *
 * @module
 */

/** CSS of the report page. */
export const REPORT_CSS = `
:root {
  --fg: #1d1f23; --muted: #5d6470; --line: #dde1e6; --bg: #ffffff;
  --panel: #f6f8fa; --accent: #1f77b4; --good: #1a7f37; --warn: #9a6700;
  --bad: #c0362c; --thumb: 96px;
}
* { box-sizing: border-box; }
body {
  margin: 0; color: var(--fg); background: var(--bg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Roboto,
    Helvetica, Arial, sans-serif;
}
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
header.report-header { border-bottom: 1px solid var(--line); margin-bottom: 8px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 12px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 8px; }
p { margin: 6px 0; }
.muted { color: var(--muted); }
.meta { color: var(--muted); font-size: 13px; margin: 4px 0 12px; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas,
  monospace; font-size: 13px; }
nav.toc { font-size: 13px; margin: 10px 0 0; }
nav.toc a { color: var(--accent); margin-right: 14px; text-decoration: none; }
.status { display: inline-block; padding: 2px 10px; border-radius: 12px;
  font-size: 13px; font-weight: 600; color: #fff; background: var(--muted);
  vertical-align: middle; margin-left: 8px; }
.status-running { background: var(--accent); }
.status-completed, .status-early-stopped { background: var(--good); }
.status-interrupted { background: var(--warn); }
.status-non-finite-loss, .status-failed { background: var(--bad); }
.status-detail { margin: 6px 0 14px; }
.cards { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); margin: 16px 0; }
.card { background: var(--panel); border: 1px solid var(--line);
  border-radius: 8px; padding: 10px 14px; }
.card .label { font-size: 12px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.card .value { font-size: 22px; font-weight: 600; }
.card .sub { font-size: 12px; color: var(--muted); }
.figure { overflow-x: auto; margin: 8px 0; }
.figure svg { max-width: 100%; height: auto; display: block; }
.placeholder { background: var(--panel); border: 1px dashed var(--line);
  border-radius: 8px; padding: 18px; color: var(--muted); }
.note { border-left: 3px solid var(--accent); padding: 4px 10px; margin: 10px 0;
  background: var(--panel); }
.two-col { display: grid; gap: 24px; grid-template-columns: minmax(0, 1fr); }
@media (min-width: 960px) {
  .two-col { grid-template-columns: minmax(0, 1.1fr) minmax(0, 1fr); }
}
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line);
  text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.summary-row td { font-weight: 600; background: #fbfcfd; }
tr.best td { background: #eef7ee; }
td.bar { position: relative; }
td.bar span.fill { position: absolute; left: 6px; bottom: 3px; height: 3px;
  max-width: calc(100% - 12px); background: #8fb8de; border-radius: 2px; }
#timing, #backend { max-width: 820px; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--accent); }
.gallery { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fill, minmax(calc(var(--thumb) + 84px), 1fr)); }
figure.loss { margin: 0; background: var(--panel); border: 1px solid var(--line);
  border-radius: 8px; padding: 8px; font-size: 12px; }
figure.loss img { display: block; width: var(--thumb); height: var(--thumb);
  object-fit: contain; margin: 0 auto 6px; background: #e9ecef; }
figure.loss .missing { width: var(--thumb); height: var(--thumb); margin: 0 auto 6px;
  background: #e9ecef; display: flex; align-items: center; justify-content: center; }
figure.loss .wrong { color: var(--bad); font-weight: 600; }
figure.loss .right { color: var(--good); font-weight: 600; }
figure.loss .file { color: var(--muted); overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
figure.loss .cams { display: flex; gap: 4px; justify-content: center; }
figure.loss figure.cam { margin: 0 0 4px; text-align: center; color: var(--muted); }
figure.loss img.cam { width: calc(var(--thumb) / 2); height: calc(var(--thumb) / 2);
  margin: 0 auto 2px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { nav.toc { display: none; } details { display: block; } }
`;
