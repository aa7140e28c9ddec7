"""The benchmark of a live workshop under load (issue 6). `make bench` runs it with defaults.

    .venv/bin/python bench/run.py                        # levels 100,500,1000,2000; app + bare
    .venv/bin/python bench/run.py --quick                # 50,100: a smoke run
    .venv/bin/python bench/run.py --levels 500 --modes blind,revealed --targets app,bare
    .venv/bin/python bench/run.py --processes 2 --levels 100   # nginx + Redis + PostgreSQL

For every level N, mode (blind, revealed) and target (app, bare), it starts a fresh server the
way the Procfile does, drives N participants through a workshop (join, connect, snapshot; a
proposal burst; phase moves; a voting burst) from several load-generator processes, and records
the figures. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import resource
import signal
import sys
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen  # noqa: E402
import report  # noqa: E402
from servers import BenchError, Deployment, nginx_binary  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--levels", default="100,500,1000,2000",
                   help="comma-separated numbers of participants")
    p.add_argument("--quick", action="store_true", help="levels 50,100: a smoke run")
    p.add_argument("--targets", default="app,bare", help="app, bare or both")
    p.add_argument("--modes", default="blind,revealed",
                   help="blind (tallies to staff screens only) and/or revealed (to everyone)")
    p.add_argument("--processes", type=int, default=1,
                   help="server processes; more than 1 puts nginx and Redis in front and uses "
                        "PostgreSQL")
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                   help="the app's database with one process (several always use postgres)")
    p.add_argument("--postgres-url",
                   default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                   help="an admin connection; the benchmark creates and drops its own database")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/14",
                   help="Redis for scale-out (its own db number, a unique channel per run)")
    p.add_argument("--generators", type=int, default=2, help="load-generator processes")
    p.add_argument("--connect-concurrency", type=int, default=20,
                   help="joins+connects in flight per generator process")
    p.add_argument("--propose-share", type=float, default=0.1,
                   help="share of participants who propose in the ideation burst")
    p.add_argument("--max-proposals", type=int, default=60,
                   help="at most this many proposals, whatever the share")
    p.add_argument("--min-proposals", type=int, default=5,
                   help="at least this many proposals (so every dot has somewhere to go)")
    p.add_argument("--propose-window", type=float, default=5.0,
                   help="seconds over which the proposals are spread")
    p.add_argument("--vote-window", type=float, default=20.0,
                   help="seconds over which each participant's dots are spread (0: as fast as "
                        "acks come, for sustained throughput)")
    p.add_argument("--ack-timeout", type=float, default=30.0,
                   help="an ack not received in this time counts as lost")
    p.add_argument("--wait-timeout", type=float, default=30.0,
                   help="bound on waiting for a phase or the final tally to reach every screen")
    p.add_argument("--run-timeout", type=float, default=900.0,
                   help="bound on one run (one level, mode and target)")
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--label", default=None,
                   help="name of the results file (default: from the options)")
    p.add_argument("--no-docs", action="store_true",
                   help="do not append the table to docs/performance.md")
    p.add_argument("--keep-logs", action="store_true",
                   help="copy the servers' logs to bench/results/logs-<label>/")
    args = p.parse_args(argv)
    if args.quick:
        args.levels = "50,100"
    args.levels = report.parse_levels(p, args.levels)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for t in args.targets:
        if t not in ("app", "bare"):
            p.error(f"unknown target {t!r}")
    for m in args.modes:
        if m not in ("blind", "revealed"):
            p.error(f"unknown mode {m!r}")
    if args.label is None:
        parts = ["quick" if args.quick else "levels-" + "-".join(map(str, args.levels)),
                 f"{args.processes}proc", "-".join(args.targets), "-".join(args.modes)]
        if args.processes == 1 and args.database == "postgres":
            parts.append("postgres")
        args.label = "-".join(parts)
    return args


# --- load-generator processes -----------------------------------------------------------------


class Generators:
    """The load-generator processes of one run, each driven over a pipe."""

    def __init__(self, count: int):
        self.count = count
        self.ctx = mp.get_context("spawn")
        self.procs: list = []
        self.conns: list = []
        self.cpu: list[float] = []
        self.pool = ThreadPoolExecutor(max_workers=max(4, count * 2),
                                       thread_name_prefix="gen-pipe")

    def __enter__(self) -> Generators:
        for _ in range(self.count):
            parent, child = self.ctx.Pipe()
            proc = self.ctx.Process(target=loadgen.main, args=(child,), daemon=True)
            proc.start()
            child.close()
            self.procs.append(proc)
            self.conns.append(parent)
        self.cpu = [0.0] * self.count
        return self

    async def ask(self, commands: list[dict], timeout: float) -> list[dict]:
        loop = asyncio.get_running_loop()
        for conn, command in zip(self.conns, commands, strict=True):
            conn.send(command)
        replies = await asyncio.wait_for(
            asyncio.gather(*(loop.run_in_executor(self.pool, conn.recv)
                             for conn in self.conns)), timeout)
        for i, reply in enumerate(replies):
            if "fatal" in reply:
                raise BenchError(f"load generator {i} failed: {reply['fatal']}")
            self.cpu[i] = reply.get("cpu", self.cpu[i])
        return replies

    def total_cpu(self) -> float:
        return sum(self.cpu)

    def __exit__(self, *exc) -> None:
        for conn, proc in zip(self.conns, self.procs, strict=True):
            if proc.is_alive():
                try:
                    conn.send({"cmd": "close", "timeout": 15})
                except (OSError, ValueError):
                    pass
        deadline = time.monotonic() + 20
        for conn, proc in zip(self.conns, self.procs, strict=True):
            try:
                if conn.poll(max(0.0, deadline - time.monotonic())):
                    reply = conn.recv()
                    self.final_cpu = reply.get("cpu")
            except (EOFError, OSError):
                pass
            proc.join(timeout=max(0.5, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
            conn.close()
        self.pool.shutdown(wait=True, cancel_futures=True)


def split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


# --- one run: one level, mode and target ------------------------------------------------------


async def open_workshop(http, dep: Deployment, title: str = "Benchmark") -> tuple[str, str]:
    """A facilitator (made by the CLI), logged in through the API, and a new workshop: its
    code and the facilitator's Cookie header (with a sticky load-balancer cookie)."""
    base = dep.url
    email, password = await asyncio.get_running_loop().run_in_executor(
        None, dep.create_facilitator)
    lb = f"samskab_lb={uuid.uuid4().hex}"
    async with http.post(f"{base}/api/v1/auth/login",
                         json={"email": email, "password": password},
                         headers={"Cookie": lb}) as response:
        if response.status != 200:
            raise BenchError(f"login answered {response.status}: {await response.text()}")
        staff_cookie = loadgen.cookie_header(response.headers) + "; " + lb
    async with http.post(f"{base}/api/v1/workshops", json={"title": title},
                         headers={"Cookie": staff_cookie}) as response:
        if response.status != 201:
            raise BenchError(f"creating the workshop answered {response.status}: "
                             f"{await response.text()}")
        code = (await response.json())["code"]
    return code, staff_cookie


async def scenario(args, dep: Deployment, gens: Generators, target: str, mode: str,
                   n: int) -> dict:
    import aiohttp

    base = dep.url
    wait = args.wait_timeout
    big = max(120.0, args.run_timeout)  # bound on one generator command
    out: dict = {"target": target, "mode": mode, "processes": dep.processes, "n": n,
                 "database": dep.database if target == "app" else "memory" if
                 dep.processes == 1 else "redis",
                 "generators": gens.count, "loadavg_start": report.loadavg()}
    errors: dict[str, int] = defaultdict(int)
    error_samples: list[str] = []

    def error(kind: str, count: int = 1, samples=()) -> None:
        if count:
            errors[kind] += count
            error_samples.extend(list(samples)[:3])

    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                 cookie_jar=aiohttp.DummyCookieJar())
    screens: list[loadgen.Screen] = []
    try:
        # --- the facilitator, the workshop, the screens -------------------------------------
        code, staff_cookie = await open_workshop(http, dep)
        key = dep.presenter_key(code)
        facilitator = await loadgen.Screen(http, staff_cookie,
                                           {"workshop": code, "role": "facilitator"}
                                           ).connect(base, wait)
        presenter = await loadgen.Screen(http, f"samskab_lb={uuid.uuid4().hex}",
                                         {"workshop": code, "presenter": key}
                                         ).connect(base, wait)
        screens = [facilitator, presenter]
        settings = facilitator.snapshot["workshop"].get("settings") or {}
        dots = int(settings.get("dots_per_participant", 5))
        cap = int(settings.get("max_dots_per_proposal", 3))
        element_id = facilitator.snapshot["elements"][0]["id"]
        out["settings"] = {"dots_per_participant": dots, "max_dots_per_proposal": cap}

        samples: dict[str, dict] = {}

        def sample(name: str) -> None:
            samples[name] = {"t": time.monotonic(), "wall": time.time(),
                             "server_cpu": dep.server_cpu(),
                             "nginx_cpu": dep.nginx_cpu(), "gen_cpu": gens.total_cpu(),
                             "main_cpu": loadgen.cpu_seconds(), **dep.server_memory()}

        # Warm the generators (imports done) and take the idle reading.
        await gens.ask([{"cmd": "report"}] * gens.count, big)
        sample("idle")
        # VmHWM includes the worker's start-up peak, so the memory per participant is taken
        # from VmRSS, sampled four times a second during the run.
        peak_rss = {"kb": samples["idle"]["rss_kb"]}

        async def watch_rss() -> None:
            while True:
                peak_rss["kb"] = max(peak_rss["kb"], dep.server_memory()["rss_kb"])
                await asyncio.sleep(0.25)

        watcher = asyncio.create_task(watch_rss())

        # --- join, connect, snapshot ---------------------------------------------------------
        counts = split(n, gens.count)
        firsts = [sum(counts[:i]) for i in range(gens.count)]
        replies = await gens.ask([
            {"cmd": "connect", "base": base, "code": code, "count": c, "first_index": f,
             "concurrency": args.connect_concurrency, "timeout": wait}
            for c, f in zip(counts, firsts, strict=True)], big)
        joins = [x for r in replies for x in r["joins"]]
        connects = [x for r in replies for x in r["connects"]]
        connected = sum(r["connected"] for r in replies)
        for r in replies:
            error("connect", len(r["errors"]), r["errors"])
        connects_began = min(r["started"] for r in replies)
        ramp = max(r["finished"] for r in replies) - connects_began
        out["connect"] = {"connected": connected, "ramp_s": ramp,
                          "per_s": connected / ramp if ramp > 0 else None,
                          "join_ms": report.summary(joins), "snapshot_ms": report.summary(connects),
                          "sockets_per_process": dep.sockets_per_worker()}
        sample("connected")

        # --- phases: the API call until every participant has the `phase` event -----------
        async def move(phase: str) -> dict:
            t0 = time.monotonic()
            async with http.post(f"{base}/api/v1/workshops/{code}/phase", json={"phase": phase},
                                 headers={"Cookie": staff_cookie}) as response:
                if response.status != 200:
                    raise BenchError(f"phase {phase} answered {response.status}: "
                                     f"{await response.text()}")
            t_api = time.monotonic()
            got = await gens.ask([{"cmd": "wait_phase", "phase": phase, "timeout": wait}]
                                 * gens.count, big)
            times = [t - t0 for r in got for t in r["times"]]
            missing = sum(r["missing"] for r in got)
            error("phase_missing", missing, [f"{missing} participants never got {phase}"])
            return {"phase": phase, "api_ms": (t_api - t0) * 1000,
                    "to_every_screen_ms": max(times) * 1000 if times else None,
                    "screens_ms": report.summary(times), "missing": missing}

        phases = [await move("ideation")]

        # --- the proposal burst -------------------------------------------------------------
        proposers = min(args.max_proposals,
                        max(args.min_proposals, math.ceil(args.propose_share * n)), connected)
        start_at = time.monotonic() + 0.5
        replies = await gens.ask([
            {"cmd": "propose", "count": c, "element_id": element_id, "start_at": start_at,
             "window": args.propose_window, "timeout": args.ack_timeout, "seed": args.seed + i}
            for i, c in enumerate(split(proposers, gens.count))], big)
        proposal_ids = sorted({x for r in replies for x in r["ids"]})
        for r in replies:
            error("propose", len(r["errors"]), r["errors"])
        out["propose"] = {"proposers": proposers, "proposals": len(proposal_ids),
                          "ack_ms": report.summary([x for r in replies for x in r["acks"]]),
                          "lost_acks": sum(r["lost"] for r in replies)}
        if not proposal_ids:
            raise BenchError("no proposal was accepted; nothing to vote on")
        sample("proposed")

        if mode == "revealed":
            ack = await facilitator.call("reveal", {"revealed": True}, args.ack_timeout)
            if not (ack or {}).get("ok"):
                raise BenchError(f"reveal refused: {ack}")
        phases.append(await move("voting"))

        # --- the voting burst ---------------------------------------------------------------
        sample("vote_start")
        start_at = time.monotonic() + 1.0
        replies = await gens.ask([
            {"cmd": "vote", "proposal_ids": proposal_ids, "dots": dots, "max_per_proposal": cap,
             "start_at": start_at, "window": args.vote_window, "timeout": args.ack_timeout,
             "seed": args.seed * 1000 + i}
            for i in range(gens.count)], big + args.vote_window)
        records = [tuple(x) for r in replies for x in r["records"]]
        for r in replies:
            error("vote_exception", len(r["errors"]), r["errors"])
        ok = [x for x in records if x[3]]
        lost = sum(1 for x in records if x[4] == "lost")
        refused = [x for x in records if not x[3] and x[4] not in ("lost", "exception")]
        error("vote_refused", len(refused), [f"vote refused: {x[4]}" for x in refused])
        expected = len(ok)
        # Bounded wait for the facilitator's tally to show every accepted vote.
        deadline = time.monotonic() + wait
        while facilitator.total_dots() < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        sample("vote_end")
        acked = [x[2] - x[1] for x in ok]
        first_send = min((x[1] for x in records), default=start_at)
        last_ack = max((x[2] for x in ok), default=first_send)
        v2s, unseen = vote_to_screen(ok, facilitator.tallies)
        error("vote_unseen", unseen, [f"{unseen} accepted votes never shown on the "
                                      "facilitator's screen"])
        vs, ve = samples["vote_start"], samples["vote_end"]
        wall = ve["t"] - vs["t"]
        out["vote"] = {
            "votes": len(records), "accepted": expected, "lost_acks": lost,
            "offered_per_s": (n * dots / args.vote_window) if args.vote_window > 0 else None,
            "accepted_per_s": expected / (last_ack - first_send) if last_ack > first_send
            else None,
            "ack_ms": report.summary(acked),
            "vote_to_screen_ms": report.summary(v2s),
            "send_lag_ms": report.summary([x[5] for x in records]),
            "facilitator_tallies": len(facilitator.tallies),
            "wall_s": wall,
            "server_cpu_s": ve["server_cpu"] - vs["server_cpu"],
            "nginx_cpu_s": ve["nginx_cpu"] - vs["nginx_cpu"],
            "generator_cpu_s": (ve["gen_cpu"] - vs["gen_cpu"]) + (ve["main_cpu"] - vs["main_cpu"]),
        }
        v = out["vote"]
        v["server_cpu_util"] = v["server_cpu_s"] / wall if wall > 0 else None
        v["generator_cpu_util"] = v["generator_cpu_s"] / wall if wall > 0 else None
        v["server_cpu_us_per_vote"] = v["server_cpu_s"] / expected * 1e6 if expected else None
        # The cycle collector's pauses in the burst: each one stopped the whole process.
        v["gc_pauses"] = dep.gc_pauses(vs["wall"], ve["wall"])

        # --- results: the tally goes to every screen ------------------------------------------
        phases.append(await move("results"))
        out["phases"] = phases
        # From results on, the tally goes to every screen: wait (bounded) until it is there.
        deadline = time.monotonic() + wait
        while True:
            final = await gens.ask([{"cmd": "report"}] * gens.count, big)
            have = sum(1 for r in final for d in r["tally_dots"] if d == expected)
            if (have >= connected and presenter.total_dots() == expected) \
                    or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        got_final = [(d, t) for r in final for d, t in zip(r["tally_dots"], r["tally_dots_at"],
                                                             strict=True)]
        reached = [t for d, t in got_final if d == expected and t is not None]
        out["final_tally"] = {
            "expected_dots": expected,
            "facilitator_dots": facilitator.total_dots(),
            "presenter_dots": presenter.total_dots(),
            "participants_with_final": len(reached),
            "participants": len(got_final),
        }
        if len(reached) < connected:
            error("final_tally_missing", connected - len(reached),
                  [f"{connected - len(reached)} participants never saw the final tally"])
        if presenter.total_dots() != expected:
            error("presenter_tally", 1, ["the presenter's last tally is not the final one"])
        received: dict[str, int] = defaultdict(int)
        for r in final:
            for k, c in r["received"].items():
                received[k] += c
        out["received_by_participants"] = dict(received)
        out["received_by_facilitator"] = facilitator.received
        out["still_connected"] = sum(r["still_connected"] for r in final)
        dropped: dict[str, int] = defaultdict(int)
        for r in final:
            for reason, c in r.get("dropped", {}).items():
                dropped[reason] += c
        out["dropped_because"] = dict(dropped)
        if out["still_connected"] < connected:
            error("disconnected", connected - out["still_connected"],
                  [f"{c} connections ended: {reason}" for reason, c in sorted(dropped.items())])
        out["generator_max_rss_mb"] = [r["max_rss_kb"] / 1024 for r in final]
        out["generator_loop_lag"] = [{k: r.get(k) for k in ("loop_lag_max_s",
                                                             "loop_lag_max_after_s")}
                                     for r in final]
        out["dropped_after_s"] = sorted(t for r in final for t in r.get("dropped_after_s", []))
        # The run's moments in seconds after the connects began (beside dropped_after_s).
        out["timeline_s"] = {name: round(s["t"] - connects_began, 1)
                             for name, s in samples.items() if name != "idle"}
        sample("end")
        watcher.cancel()
        peak_rss["kb"] = max(peak_rss["kb"], samples["end"]["rss_kb"])

        idle, end = samples["idle"], samples["end"]
        out["server"] = {
            "cpu_s": end["server_cpu"] - idle["server_cpu"],
            "cpu_ms_per_participant": (end["server_cpu"] - idle["server_cpu"]) / n * 1000,
            "idle_rss_mb": idle["rss_kb"] / 1024,
            "peak_rss_mb": peak_rss["kb"] / 1024,
            "vmhwm_mb": end["hwm_kb"] / 1024,
            "rss_kb_per_participant": (peak_rss["kb"] - idle["rss_kb"]) / n,
            "nginx_cpu_s": end["nginx_cpu"] - idle["nginx_cpu"],
        }
        out["generator"] = {
            "cpu_s": (end["gen_cpu"] - idle["gen_cpu"]) + (end["main_cpu"] - idle["main_cpu"]),
            "wall_s": end["t"] - idle["t"],
        }
        out["generator"]["cpu_util"] = out["generator"]["cpu_s"] / out["generator"]["wall_s"]
        out["server"]["cpu_util"] = out["server"]["cpu_s"] / out["generator"]["wall_s"]
    finally:
        for screen in screens:
            await screen.close()
        await http.close()
        out["errors"] = dict(errors)
        out["error_total"] = sum(errors.values())
        out["error_samples"] = error_samples[:10]
        out["loadavg_end"] = report.loadavg()
    return out


def vote_to_screen(ok_records: list[tuple], tallies: list[tuple]) -> tuple[list[float], int]:
    """From each vote's send until a tally that includes it reaches the facilitator's screen.

    Every accepted vote adds exactly one dot to one proposal. Per proposal, the k-th vote sent
    (in send order, over every generator process) is resolved by the first tally that shows
    at least k dots on that proposal. Returns the latencies (s) and how many were never seen.
    """
    sends: dict[int, list[float]] = defaultdict(list)
    for pid, sent, *_ in ok_records:
        sends[pid].append(sent)
    latencies: list[float] = []
    unseen = 0
    for pid, times in sends.items():
        times.sort()
        k = 0
        for t_recv, rows, _total in tallies:
            shown = rows.get(pid, 0)
            while k < len(times) and k < shown:
                latencies.append(max(0.0, t_recv - times[k]))
                k += 1
            if k == len(times):
                break
        unseen += len(times) - k
    return latencies, unseen


def run_one(args, target: str, mode: str, n: int) -> dict:
    print(f"\n== {target} · {mode} · {args.processes} process(es) · N={n}", flush=True)
    started = time.time()
    logs = RESULTS / f"logs-{args.label}" / f"{target}-{mode}-{n}" if args.keep_logs else None
    try:
        with Deployment(target, processes=args.processes, database=args.database,
                        postgres_url=args.postgres_url, redis_url=args.redis_url,
                        keep_logs=logs) as dep, Generators(args.generators) as gens:
            try:
                result = asyncio.run(asyncio.wait_for(
                    scenario(args, dep, gens, target, mode, n), args.run_timeout))
            except Exception as error:  # recorded as a failed run; the next run goes on
                message = f"{type(error).__name__}: {error}"
                print(f"   run failed: {message}\n   server log tail:\n{dep.log()[-1500:]}",
                      flush=True)
                result = {"target": target, "mode": mode, "processes": args.processes, "n": n,
                          "failed": message[:2000]}
    except BenchError as error:
        print(f"   could not start: {error}", flush=True)
        result = {"target": target, "mode": mode, "processes": args.processes, "n": n,
                  "failed": str(error)[:2000]}
    result["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started))
    result["duration_s"] = time.time() - started
    print("   " + report.one_line(result), flush=True)
    return result


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _terminate(*_args) -> None:
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    if args.processes > 1:
        try:
            nginx_binary()
        except BenchError as error:
            print(error, file=sys.stderr)
            return 2
    # SIGTERM behaves as Ctrl+C: every `finally` runs and cleans up.
    signal.signal(signal.SIGTERM, _terminate)
    machine = report.machine_info()
    date = time.strftime("%Y-%m-%d")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{date}-{args.label}.json"
    document = {"label": args.label, "date": date, "machine": machine,
                "options": {k: v for k, v in vars(args).items()}, "runs": []}
    interrupted = False
    try:
        for n in args.levels:
            for mode in args.modes:
                for target in args.targets:  # app and bare back to back: the same moment
                    document["runs"].append(run_one(args, target, mode, n))
                    report.write_json(path, document)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: servers, nginx, generators and databases were stopped; "
              "writing what was measured", file=sys.stderr)
    document["interrupted"] = interrupted
    report.write_json(path, document)
    table = report.markdown(document)
    print("\n" + table)
    plot = report.plot(document, path.with_suffix(".png"))
    if not args.no_docs and document["runs"]:
        report.append_to_docs(document, path, plot)
    print(f"\nresults: {path}" + (f"\nplot:    {plot}" if plot else ""))
    failed = [r for r in document["runs"] if "failed" in r or r.get("error_total")]
    return 130 if interrupted else (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
