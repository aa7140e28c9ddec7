"""How soon is everyone back after the server is killed? (issue 7)

A workshop is a one-off event: if the only server process dies, every phone must be back in
the session within seconds, without anyone reloading. For each level N this script starts the
server the way the Procfile does (gunicorn, gevent worker, SQLite), connects N participants
from the load-generator processes with the browser's reconnection settings (1 s doubling to
5 s, give or take half: static/js/live.js), SIGKILLs the server, starts it again on the same
port, and measures, from the moment the new server answers HTTP:

- how long it took to start (kill -> answering),
- when each client was back (its snapshot from the new server),
- when each client was answered: one action (`own`, as cheap as a resent vote) sent once it
  is back, as the browser resends what was not acknowledged; without an ack within
  `--ack-timeout` (the browser's 8 s) it is sent again only after the next reconnection,
- the new worker's CPU during the storm, and the clients that never came back.

The fault tests (tests/faults/) check that nothing acknowledged is lost; this measures the
time it takes. A script, not a test: it asserts nothing. It prints a table and writes
`bench/results/<date>-<label>.json`.

    .venv/bin/python bench/recovery.py
    .venv/bin/python bench/recovery.py --levels 200,1000 --generators 2
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402 - the benchmark's own modules, after the path
from run import RESULTS, Generators, open_workshop, raise_fd_limit, split  # noqa: E402
from servers import BenchError, Deployment  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--levels", default="200,500,1000",
                        help="comma-separated numbers of participants")
    parser.add_argument("--generators", type=int, default=2,
                        help="load-generator processes")
    parser.add_argument("--connect-concurrency", type=int, default=20,
                        help="joins+connects in flight per generator process")
    parser.add_argument("--ack-timeout", type=float, default=8.0,
                        help="the browser's ack timeout: an action not answered in this time "
                             "is sent again after the next reconnection")
    parser.add_argument("--wait", type=float, default=60.0,
                        help="a client not back and answered this long after the restart "
                             "counts as never")
    parser.add_argument("--label", default="recovery")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the server's log in bench/results/logs-<label>/")
    args = parser.parse_args(argv)
    args.levels = report.parse_levels(parser, args.levels)
    if args.generators < 1 or args.connect_concurrency < 1:
        parser.error("--generators and --connect-concurrency must be at least 1")
    if args.ack_timeout <= 0 or args.wait <= 0:
        parser.error("--ack-timeout and --wait must be positive")
    return args


async def level(args, dep: Deployment, gens: Generators, n: int) -> dict:
    import aiohttp

    big = 120.0 + args.wait
    out: dict = {"n": n, "generators": gens.count, "loadavg_start": report.loadavg()}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        code, _staff = await open_workshop(http, dep)
    await gens.ask([{"cmd": "report"}] * gens.count, big)  # the generators' imports done
    counts = split(n, gens.count)
    replies = await gens.ask([
        {"cmd": "connect", "base": dep.url, "code": code, "count": c,
         "first_index": sum(counts[:i]), "concurrency": args.connect_concurrency,
         "timeout": 30.0, "reconnect": True}
        for i, c in enumerate(counts)], big)
    out["connected"] = sum(r["connected"] for r in replies)
    out["connect_errors"] = [e for r in replies for e in r["errors"]][:5]
    await asyncio.sleep(1.0)  # the snapshots' writes settle

    killed = time.monotonic()
    dep.kill()
    dep.restart()  # waits until it answers HTTP
    back = time.monotonic()
    cpu_at_back = dep.server_cpu()
    out["restart_s"] = back - killed
    replies = await gens.ask([
        {"cmd": "recover", "killed": killed, "back": back, "deadline": back + args.wait,
         "ack_timeout": args.ack_timeout}] * gens.count, big)
    done = time.monotonic()
    returned = sorted(x for r in replies for x in r["returned"])
    answered = sorted(x for r in replies for x in r["answered"])
    never: dict[str, int] = {}
    for r in replies:
        for why, count in r["never"].items():
            never[why] = never.get(why, 0) + count
    out.update({
        # Seconds after the new server answered HTTP (negative: the client was back first).
        "back_s": report.summary(returned), "answered_s": report.summary(answered),
        "everyone_answered_s": answered[-1] if len(answered) == out["connected"] else None,
        "resends": sum(r["resends"] for r in replies), "never": never,
        "server_cpu_s": dep.server_cpu() - cpu_at_back, "storm_s": done - back,
        "server_rss_mb": dep.server_memory()["rss_kb"] / 1024,
    })
    return out


def seconds(summary: dict, key: str) -> str:
    # report.summary gives milliseconds: shown here in seconds.
    value = summary.get(key) if summary else None
    return "—" if value is None else f"{value / 1000:.1f}"


def table(runs: list[dict]) -> str:
    lines = ["| participants | restart s | back p50 / p95 / max s | answered p50 / p95 / max s "
             "| resends | never | worker CPU in the storm s |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in runs:
        if "failed" in r:
            lines.append(f"| {r['n']} | failed: {r['failed'][:80]} | | | | | |")
            continue
        back, answered = r["back_s"], r["answered_s"]
        lines.append(
            f"| {r['n']} | {r['restart_s']:.1f} "
            f"| {seconds(back, 'p50')} / {seconds(back, 'p95')} / {seconds(back, 'max')} "
            f"| {seconds(answered, 'p50')} / {seconds(answered, 'p95')} / "
            f"{seconds(answered, 'max')} | {r['resends']} | {sum(r['never'].values())} "
            f"| {r['server_cpu_s']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    date = time.strftime("%Y-%m-%d")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{date}-{args.label}.json"
    document = {"label": args.label, "date": date, "machine": report.machine_info(),
                "options": vars(args), "runs": []}
    try:
        for n in args.levels:
            print(f"\n== recovery after a kill · N={n}", flush=True)
            try:
                logs = RESULTS / f"logs-{args.label}" / str(n) if args.keep_logs else None
                with Deployment("app", keep_logs=logs) as dep, \
                        Generators(args.generators) as gens:
                    try:
                        result = asyncio.run(level(args, dep, gens, n))
                    except Exception as error:  # recorded; the next level goes on
                        result = {"n": n, "failed": f"{type(error).__name__}: {error}"[:2000]}
                        print(f"   failed: {result['failed']}\n{dep.log()[-1500:]}", flush=True)
            except BenchError as error:
                result = {"n": n, "failed": str(error)[:2000]}
            document["runs"].append(result)
            report.write_json(path, document)
    except KeyboardInterrupt:
        document["interrupted"] = True
    report.write_json(path, document)
    print("\n" + table(document["runs"]))
    print(f"\nresults: {path}")
    return 1 if any("failed" in r or r.get("never") for r in document["runs"]) else 0


if __name__ == "__main__":
    sys.exit(main())
