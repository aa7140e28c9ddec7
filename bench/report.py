"""Statistics and output of the benchmark: percentiles, the machine, JSON, Markdown, the plot."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
PACKAGES = ("Flask", "Flask-SocketIO", "python-socketio", "python-engineio", "simple-websocket",
            "gevent", "greenlet", "gunicorn", "SQLAlchemy", "psycopg", "redis", "aiohttp",
            "matplotlib")


# --- options ----------------------------------------------------------------------------------


def parse_levels(parser, text: str) -> list[int]:
    """The `--levels` option of every benchmark script: participant counts separated by
    commas, each at least 1; anything else is the parser's clear error (exit status 2)."""
    try:
        levels = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        parser.error("--levels takes participant counts separated by commas, e.g. 1000,2000")
    if not levels or min(levels) < 1:
        parser.error("--levels: at least one level, each at least 1")
    return levels


# --- statistics -------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (as numpy's default)."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summary(seconds: list[float]) -> dict:
    """p50/p95/p99/max/mean in milliseconds of a list of durations in seconds."""
    values = sorted(x * 1000 for x in seconds if x is not None)
    if not values:
        return {"count": 0}
    return {"count": len(values), "p50": percentile(values, 0.50),
            "p95": percentile(values, 0.95), "p99": percentile(values, 0.99),
            "max": values[-1], "mean": sum(values) / len(values)}


# --- the machine ------------------------------------------------------------------------------


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def machine_info() -> dict:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    nginx = None
    try:
        nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True,
                               timeout=5).stderr.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "cpu_model": cpu_model, "kernel": platform.release(),
            "python": platform.python_version(), "packages": versions, "nginx": nginx,
            "loadavg": loadavg()}


# --- output -----------------------------------------------------------------------------------


def write_json(path: Path, document: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=1, default=str))
    tmp.replace(path)


def _g(run: dict, *keys, default=None):
    cur = run
    for key in keys:
        if not isinstance(cur, dict) or key not in cur:
            return default
        cur = cur[key]
    return cur


def _ms(value) -> str:
    if value is None or value != value:  # None or NaN
        return "–"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _triple(run: dict, key: str) -> str:
    s = _g(run, "vote", key) or {}
    if not s.get("count"):
        return "–"
    return f"{_ms(s['p50'])} / {_ms(s['p95'])} / {_ms(s['p99'])}"


def _pct(value) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _num(value, fmt="{:.0f}") -> str:
    return "–" if value is None else fmt.format(value)


def one_line(run: dict) -> str:
    if "failed" in run:
        return f"FAILED: {run['failed'][:300]}"
    v = run.get("vote", {})
    return (f"connected {_g(run, 'connect', 'connected')}/{run['n']}, "
            f"snapshot p95 {_ms(_g(run, 'connect', 'snapshot_ms', 'p95'))} ms, "
            f"ack p95 {_ms(_g(v, 'ack_ms', 'p95'))} ms, "
            f"vote→screen p95 {_ms(_g(v, 'vote_to_screen_ms', 'p95'))} ms, "
            f"{_num(v.get('accepted_per_s'))} votes/s, errors {run.get('error_total')}, "
            f"lost {v.get('lost_acks')}, server CPU {_pct(v.get('server_cpu_util'))}, "
            f"generator CPU {_pct(v.get('generator_cpu_util'))} (voting)")


COLUMNS = ("| target | mode | proc | N | connected | snapshot p95 ms | ack p50 / p95 / p99 ms "
           "| vote→screen p50 / p95 / p99 ms | phase→all ms | votes/s | errors | lost acks "
           "| server CPU (voting) | µs CPU / vote | GC pauses (voting): n, ms (longest) "
           "| generator CPU (voting) | peak RSS MB | KB / participant |")


def markdown(document: dict) -> str:
    lines = [COLUMNS, "|" + "---|" * COLUMNS.count(" | ") + "---|"]
    for run in document["runs"]:
        head = f"| {run['target']} | {run['mode']} | {run['processes']} | {run['n']} "
        if "failed" in run:
            lines.append(head + f"| failed: {run['failed'][:80].replace('|', '/')} "
                         + "| " * 13 + "|")
            continue
        voting = next((p for p in run.get("phases", []) if p["phase"] == "voting"), {})
        v = run.get("vote", {})
        lines.append(
            head
            + f"| {_g(run, 'connect', 'connected')} "
            f"| {_ms(_g(run, 'connect', 'snapshot_ms', 'p95'))} "
            f"| {_triple(run, 'ack_ms')} | {_triple(run, 'vote_to_screen_ms')} "
            f"| {_ms(voting.get('to_every_screen_ms'))} "
            f"| {_num(v.get('accepted_per_s'))} | {run.get('error_total')} "
            f"| {v.get('lost_acks')} | {_pct(v.get('server_cpu_util'))} "
            f"| {_num(v.get('server_cpu_us_per_vote'))} "
            f"| {_gc(v.get('gc_pauses'))} "
            f"| {_pct(v.get('generator_cpu_util'))} "
            f"| {_num(_g(run, 'server', 'peak_rss_mb'))} "
            f"| {_num(_g(run, 'server', 'rss_kb_per_participant'))} |")
    ratios = ratio_lines(document)
    if ratios:
        lines += ["", *ratios]
    return "\n".join(lines)


def _gc(pauses: dict | None) -> str:
    """The collector's pauses in the burst: how many, their time in all, the longest."""
    if not pauses:
        return "–"
    count = sum(p["count"] for p in pauses.values())
    total = sum(p["total_ms"] for p in pauses.values())
    longest = max(p["max_ms"] for p in pauses.values())
    return f"{count}, {total:.0f} ({longest:.0f})" if count else "0"


def ratio_lines(document: dict) -> list[str]:
    """The app's figures as a ratio to the bare baseline's in the same run."""
    by_key = {}
    for run in document["runs"]:
        if "failed" not in run:
            by_key[(run["target"], run["mode"], run["processes"], run["n"])] = run
    rows = []
    for (target, mode, procs, n), app in by_key.items():
        bare = by_key.get(("bare", mode, procs, n))
        if target != "app" or bare is None:
            continue

        def r(a, b):
            return "–" if a is None or b in (None, 0) else f"{a / b:.2f}×"

        rows.append(
            f"| {mode} | {procs} | {n} "
            f"| {r(_g(app, 'vote', 'ack_ms', 'p95'), _g(bare, 'vote', 'ack_ms', 'p95'))} "
            f"| {r(_g(app, 'vote', 'vote_to_screen_ms', 'p95'), _g(bare, 'vote', 'vote_to_screen_ms', 'p95'))} "  # noqa: E501
            f"| {r(_g(app, 'connect', 'snapshot_ms', 'p95'), _g(bare, 'connect', 'snapshot_ms', 'p95'))} "  # noqa: E501
            f"| {r(_g(app, 'vote', 'server_cpu_us_per_vote'), _g(bare, 'vote', 'server_cpu_us_per_vote'))} "  # noqa: E501
            f"| {r(_g(app, 'server', 'rss_kb_per_participant'), _g(bare, 'server', 'rss_kb_per_participant'))} |")  # noqa: E501
    if not rows:
        return []
    return ["App ÷ bare baseline, same run:", "",
            "| mode | proc | N | ack p95 | vote→screen p95 | snapshot p95 | CPU / vote "
            "| KB / participant |", "|---|---|---|---|---|---|---|---|", *rows]


def plot(document: dict, path: Path) -> Path | None:
    """p95 vote ack and p95 vote-to-screen against N, one line per target, mode and processes."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -r requirements-dev.txt): no plot")
        return None
    series: dict[tuple, list[tuple[int, float, float]]] = {}
    for run in document["runs"]:
        if "failed" in run:
            continue
        key = (run["target"], run["mode"], run["processes"])
        series.setdefault(key, []).append((
            run["n"], _g(run, "vote", "ack_ms", "p95"),
            _g(run, "vote", "vote_to_screen_ms", "p95")))
    if not series:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for (target, mode, procs), points in sorted(series.items()):
        points.sort()
        ns = [p[0] for p in points]
        look = {"color": "C0" if target == "app" else "C1",
                "linestyle": "-" if mode == "blind" else "--",
                "marker": {1: "o", 2: "s", 4: "^"}.get(procs, "D"),
                "label": f"{target} · {mode} · {procs} proc"}
        axes[0].plot(ns, [p[1] for p in points], **look)
        axes[1].plot(ns, [p[2] for p in points], **look)
    for ax, title in zip(axes, ("p95 vote ack (ms)", "p95 vote → facilitator screen (ms)"),
                         strict=True):
        ax.set_title(title)
        ax.set_xlabel("participants (N)")
        ax.set_ylabel("ms")
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=8)
    m = document["machine"]
    fig.suptitle(f"Samskab live benchmark · {document['date']} · {document['label']} · "
                 f"{m['cores']} cores, {m['cpu_model'][:40]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


DOC_HEAD = """\
# Performance

Figures from the benchmark in `bench/` (issue 6): how many live participants one process holds,
and what the app costs compared with a bare python-socketio server doing the same work on the
same machine at the same moment. How to run it, and every figure in the JSON files, are in
[bench/README.md](../bench/README.md).

## Method

For each level N, each voting mode and each target, `bench/run.py` starts a fresh server the way
the Procfile does (gunicorn, one gevent worker per process, `--worker-connections 10000`) on a
fresh database (an SQLite file; PostgreSQL with `--database postgres` or several processes), and
drives one workshop:

1. a facilitator (made with `flask users create`) logs in and creates the workshop through the
   JSON API; a facilitator screen and a presenter screen connect to `/live` and listen throughout;
2. N participants join through the API (`POST /api/v1/workshops/<code>/participants`) and connect
   to `/live` over WebSocket with their cookie, at most 20 at a time per generator process, and
   wait for their snapshot;
3. the facilitator moves to ideation; 10% of the participants (at most 60) propose, spread over
   5 s; in *revealed* mode the facilitator sends `reveal {revealed: true}`;
4. the facilitator moves to voting; every participant places all five dots, one acked `vote`
   event per dot, at uniform random moments over 20 s (one after the other: a person waits for
   the ack before the next tap);
5. once the facilitator's screen shows every accepted dot, the facilitator moves to results.

The participants are python-socketio `AsyncClient`s on asyncio in two load-generator processes
(multiprocessing), on the same 2-core machine as the server: the generator's own CPU is reported
so a reader can see when it, and not the server, was the limit. The *bare* target
(`bench/bare_server.py`) is Flask-SocketIO under the same gunicorn worker doing the same
protocol with an in-memory counter (Redis with several processes), the same budget rule, the same
rooms and the same coalesced tally and presence broadcasts at 5 Hz. *blind*: tallies go to the
facilitator and presenter screens only; *revealed*: to every participant too.

## Columns

| column | meaning |
| --- | --- |
| proc | server processes (more than one: behind nginx, sticky by a per-client cookie, joined by Redis) |
| connected | participants connected with a snapshot |
| snapshot p95 | from opening the WebSocket (after the join) until the snapshot arrived |
| ack | from sending a `vote` until its ack (the ack follows the commit) |
| vote→screen | from sending a vote until a tally that includes it reaches the facilitator's screen (per proposal, the k-th vote sent is resolved by the first tally with at least k dots on it) |
| phase→all | from the API call that moves to voting until the last participant received `phase` |
| votes/s | accepted votes ÷ (last ack − first send); with a 20 s window it is the offered rate unless the server falls behind |
| errors, lost acks | refused or failed connects, proposals and votes, missing phase or tally messages; acks never received (each must be 0) |
| server CPU (voting) | CPU of the gunicorn worker(s) during the voting burst, as a share of one core (200% = both cores) |
| µs CPU / vote | the server's CPU during the voting burst ÷ accepted votes (includes the tally broadcasts) |
| GC pauses (voting) | collections of Python's cycle collector in the server's worker(s) during the voting burst: how many, their milliseconds in all and the longest (each stops the whole process; per generation in the JSON, `vote.gc_pauses`) |
| generator CPU (voting) | CPU of the load-generator processes (and the screens' process) during the voting burst, as a share of one core |
| peak RSS MB | the highest resident memory (VmRSS, sampled every 0.25 s) of the gunicorn worker(s), summed; VmHWM, which includes the start-up peak, is in the JSON |
| KB / participant | (peak RSS − RSS before the first participant connected) ÷ N |

The figures are of a shared 2-core machine: the load average at the start and end of every run
is in the JSON file, and a run whose server and generator together use close to 200% of CPU
was limited by the machine rather than by the server alone.

## Results
"""


def append_to_docs(document: dict, json_path: Path, plot_path: Path | None) -> None:
    text = DOCS.read_text() if DOCS.exists() else ""
    if "## Results" not in text:
        text = DOC_HEAD
    m = document["machine"]
    section = [
        "",
        f"### {document['date']} · {document['label']}",
        "",
        f"{m['cores']} cores ({m['cpu_model']}), {m['memory_gb']} GB, Python {m['python']}, "
        f"Flask-SocketIO {m['packages'].get('Flask-SocketIO')}, python-socketio "
        f"{m['packages'].get('python-socketio')}, gevent {m['packages'].get('gevent')}; "
        f"load average at start {m.get('loadavg')}. "
        f"Options: vote window {document['options']['vote_window']} s, "
        f"{document['options']['generators']} generator processes. "
        f"Raw figures: `{json_path.relative_to(ROOT)}`"
        + (f"; plot: `{plot_path.relative_to(ROOT)}`." if plot_path else "."),
        "",
        markdown(document),
        "",
    ]
    if document.get("interrupted"):
        section.insert(3, "*Interrupted: the table holds the runs that finished.*\n")
    # Into the "Results" part: before the first top-level section that follows it.
    start = text.index("## Results")
    after = text.find("\n## ", start + len("## Results"))
    if after == -1:
        DOCS.write_text(text.rstrip("\n") + "\n" + "\n".join(section))
    else:
        DOCS.write_text(text[:after].rstrip("\n") + "\n" + "\n".join(section) + text[after:])
