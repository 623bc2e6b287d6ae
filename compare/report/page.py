"""What both report formats share: section names, the title, definitions; the page's CSS."""

from __future__ import annotations

from compare.report.model import Model
from compare.report.runresults import RunResults

SECTIONS: tuple[tuple[str, str], ...] = (
    ("answer", "The answer"),
    ("capacity", "Capacity"),
    ("verdict", "Verdict"),
    ("size-sweep", "Size sweep"),
    ("throughput", "Throughput and latency"),
    ("memory", "Memory over time"),
    ("cost", "Cost"),
    ("head-of-line", "Head-of-line and slow clients"),
    ("environment", "Environment and method"),
)

DEFINITIONS: tuple[str, ...] = (
    "Every figure comes from the load generator's own raw record of each request (start, first "
    "body byte, last byte, bytes, outcome, connection, answering worker) and from the server "
    "samples, over one measurement window per cell: from a settling time after every user was "
    "spawned until the load began to stop. Requests that started in the window and were still "
    "running then were allowed to finish (the drain); their latency counts.",
    "TTFB: from sending the request to the first byte of the body (not of the headers).",
    "Last byte: from sending the request to the last byte of a verified complete body.",
    "Throughput: body bytes received inside the window divided by its length; partial "
    "downloads count. rows/s: that divided by the bytes per row of the verified downloads.",
    "Latency samples: the requests that started in the window. Failed requests enter no "
    "percentile and no rate; each is counted once, by kind (http-503, truncated, reset ...).",
    "Percentiles are computed by the project from the raw values, interpolating linearly "
    "between closest ranks; n is the number of samples. A p99 from fewer than 100 samples (a "
    "p90 from fewer than 10) is the maximum, marked max. Each figure is the median over the "
    "repetitions, with their range (lowest-highest) beside it.",
    "Ratios are bounded by both sides' ranges; when that interval includes 1 the report says "
    '"no clear difference". With one repetition there is no range, and it says so.',
    "Peak memory increase: the highest PSS of the server's whole process tree in the window, "
    "minus its idle baseline taken after the warm-up (the warm-up's own cost is shown apart; "
    "a tree that gave back warm-up garbage during the load shows 0, not a negative increase). "
    "Per download: that increase divided by the most responses being sent at once (from "
    "first body byte to last; a request queued for a busy worker holds no memory). "
    "MB = 10^6 bytes.",
    "Size sweep peak: one download on a fresh, warmed stack; the larger of the highest sampled "
    "tree PSS (sampled every 20 ms) and the kernel's exact per-process high-water marks (VmHWM, "
    "reset just before the download), which see a body joined and freed within milliseconds. "
    "In load cells the kernel's sum is shown beside the sampled peak as an upper bound (workers "
    "may peak at different moments).",
    "Server CPU per GB: CPU seconds of the server tree in the window, per GB received in it.",
    "Flags: client-bound (a load-generator process used >= 90% of a core), machine-bound (all "
    "CPUs >= 95% busy), server-cpu-shared (other processes used >= 10% of the servers' CPUs), "
    "uneven (a worker did under a third of another's CPU work while there "
    "were at least as many connections as workers), failures, unserved (users that never got "
    "a first byte).",
)


def title(model: Model) -> str:
    """The report's title: what was compared."""
    stacks = " vs ".join(model.stacks) or "no stacks"
    return f"Django streaming export: {stacks}"


def started_line(results: RunResults) -> str:
    """When the run started and how it ended, in one sentence."""
    return f"Run started {results.started or '?'}, status {results.status or '?'}."


CSS = """
:root { --fg: #1d1f23; --muted: #5b6270; --line: #d8dce3; --bad: #fde2e1; --bound: #ffe9c7;
  --warn: #fff7d1; --missing: #eef0f3; --accent: #2756a8; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; font: 15px/1.5 system-ui, -apple-system,
  "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.3rem; margin: 2.5rem 0 .75rem; padding-bottom: .25rem;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
.meta, .what, .empty, caption { color: var(--muted); }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
nav { display: flex; flex-wrap: wrap; gap: .4rem 1rem; margin: 1rem 0; font-size: .9rem; }
nav a { color: var(--accent); text-decoration: none; }
ul.run-notes { background: var(--bound); border-left: 4px solid #c77700; padding: .6rem 1rem
  .6rem 2rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .25rem 1rem .5rem;
  margin: .75rem 0; }
.card.missing { background: var(--missing); }
.card h3 { margin: .5rem 0 0; }
.card .what { margin: 0 0 .25rem; font-size: .9rem; }
.users { font-weight: normal; color: var(--muted); font-size: .9rem; }
ul { padding-left: 1.3rem; margin: .25rem 0; }
ul.caveats li { color: #8a3b00; }
ul.caveats li::marker { content: "\\26A0  "; }
.scroll { overflow-x: auto; margin: .5rem 0 1rem; }
table { border-collapse: collapse; font-size: .85rem; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { background: #f5f6f8; }
td { white-space: nowrap; }
td.wrap { white-space: normal; min-width: 10rem; }
td small { display: block; color: var(--muted); font-size: .75em; white-space: nowrap; }
tr.failed td { background: var(--bad); }
tr.bound td { background: var(--bound); }
tr.warn td { background: var(--warn); }
tr.missing td { background: var(--missing); color: var(--muted); font-style: italic; }
figure { margin: .75rem 0; }
figure svg { max-width: 100%; height: auto; display: block; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0;
  font-size: .9rem; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
dl.commands { grid-template-columns: 1fr; }
dl.commands dt { margin-top: .4rem; }
pre { white-space: pre-wrap; word-break: break-all; background: #f5f6f8; padding: .4rem .6rem;
  margin: 0; font-size: .8rem; border-radius: 4px; }
.answer { border: 2px solid var(--accent); border-radius: 6px; padding: .25rem 1rem .6rem; }
.answer h3 { margin: .75rem 0 .2rem; }
.answer p.target { margin: .5rem 0 0; color: var(--muted); }
.answer ul.differences li { font-weight: 600; }
.answer p.rest { margin: .2rem 0; color: var(--muted); font-size: .9rem; }
p.selfcheck { margin: .5rem 0 0; }
p.selfcheck.disagrees { background: var(--bad); border-left: 4px solid #b3261e;
  padding: .3rem .6rem; font-weight: 600; }
.flag { display: inline-block; background: var(--bound); border: 1px solid #c77700;
  border-radius: 3px; padding: 0 .3rem; font-size: .8rem; margin-left: .2rem; }
table.matrix td { text-align: center; }
table.matrix th[scope=row] { background: #fff; font-weight: normal; }
td.v-clear { background: #d3f0d8; font-weight: 600; }
td.v-same { background: #eceef1; }
td.v-inconclusive { background: var(--warn); }
td.v-not-judged { background: #fff; color: var(--muted); font-style: italic; }
td.v-none { color: var(--muted); }
details > summary { cursor: pointer; color: var(--accent); margin: .75rem 0; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { break-before: auto; break-after: avoid; }
  figure, .card, tr { break-inside: avoid; }
  .scroll { overflow: visible; }
}
"""
