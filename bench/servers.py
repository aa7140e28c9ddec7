"""Server management for the benchmark: databases, gunicorn processes, nginx, /proc readings.

    with Deployment(target="app", processes=1, database="sqlite") as dep:
        dep.url            # where clients go (nginx when processes > 1)
        dep.server_cpu()   # CPU seconds of the gunicorn workers, summed
        dep.server_memory()

Every process is started in its own session (process group) and stopped at the end, whatever
happens; a PostgreSQL database made for the run is dropped; the temp dir is removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0

# Every benchmark server runs with the repository's gunicorn.conf.py plus one hook: its worker
# logs each collection of Python's cycle collector (wall time, generation, milliseconds,
# objects freed) to gc-<pid>.log in the run's directory. A collection stops the whole gevent
# process, so these pauses are part of every latency tail; the report counts those of the
# voting burst (`Deployment.gc_pauses`). One line per collection, every few seconds.
GC_LOG_CONFIG = """\
import os as _os

exec(compile(open({root_config!r}).read(), {root_config!r}, "exec"))


def post_worker_init(worker):
    import gc
    import time

    log = open(_os.path.join({workdir!r}, f"gc-{{_os.getpid()}}.log"), "a", buffering=1)
    started = [0.0]

    def record(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            ms = (time.perf_counter() - started[0]) * 1000
            log.write(f"{{time.time():.4f}} {{info['generation']}} {{ms:.3f}} "
                      f"{{info.get('collected', 0)}}\\n")

    gc.callbacks.append(record)
    hook = globals().get("bench_post_worker_init")  # a benchmark's own probe (soak --probe)
    if hook is not None:
        hook(worker)
"""
CLK_TCK = os.sysconf("SC_CLK_TCK")
PASSWORD = "benchmark-password"


class BenchError(RuntimeError):
    """A failure that stops a run with a message for the reader, not a traceback."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- /proc ------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of one process, in KiB."""
    out = {"rss_kb": 0, "hwm_kb": 0}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_kb"] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    out["hwm_kb"] = int(line.split()[1])
    except OSError:
        pass
    return out


def socket_count(pid: int) -> int:
    try:
        return sum(1 for fd in os.listdir(f"/proc/{pid}/fd")
                   if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"))
    except OSError:
        return 0


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGINT to the process group we started (gunicorn's and nginx's quick shutdown: a
    graceful one waits for idle keep-alive connections), then SIGKILL if it does not go."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=timeout)


# --- databases --------------------------------------------------------------------------------


class PostgresDatabase:
    """A fresh database on the PostgreSQL server, dropped at the end."""

    def __init__(self, admin_url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.base = make_url(admin_url)
        self.name = f"samskab_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.admin = create_engine(self.base.set(database="postgres"),
                                   isolation_level="AUTOCOMMIT")
        self.url = ""

    def __enter__(self) -> str:
        from sqlalchemy import text

        try:
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        except Exception as error:
            raise BenchError(f"cannot create a PostgreSQL database at {self.base}: {error}") \
                from None
        self.url = self.base.set(database=self.name).render_as_string(hide_password=False)
        return self.url

    def __exit__(self, *exc) -> None:
        from sqlalchemy import text

        try:
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        finally:
            self.admin.dispose()


# --- nginx ------------------------------------------------------------------------------------

NGINX_CONF = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
worker_rlimit_nofile 60000;
events {{ worker_connections 30000; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 128k;

    # Sticky sessions that also spread load from one loopback address: every simulated
    # client (and every browser, with a cookie set by the edge) carries its own random
    # `samskab_lb` cookie, and a consistent hash of it picks the process. The same client
    # always reaches the same process; different clients spread evenly.
    upstream samskab {{
        hash $cookie_samskab_lb consistent;
{servers}
    }}

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://samskab;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 3600s;
            proxy_buffering off;
            # Which process answered: for the tests and for reading a run's logs.
            add_header X-Samskab-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if not found:
        raise BenchError(
            "nginx is not installed, and the scale-out runs (--processes 2 or more) need it.\n"
            "Install it from Debian's packages:  apt-get install -y nginx\n"
            "(the benchmark starts its own nginx on a loopback port; the system service is "
            "not used).")
    return found


class Nginx:
    def __init__(self, workdir: Path, upstream_ports: list[int]):
        self.binary = nginx_binary()
        self.dir = workdir / "nginx"
        self.dir.mkdir()
        self.port = free_port()
        servers = "\n".join(f"        server 127.0.0.1:{p};" for p in upstream_ports)
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(dir=self.dir, servers=servers, port=self.port))
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Nginx:
        log = open(self.dir / "nginx-stdout.log", "wb")
        self.process = subprocess.Popen(
            [self.binary, "-p", str(self.dir), "-c", str(self.conf), "-e",
             str(self.dir / "nginx-error.log"), "-g", "daemon off;"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError("nginx exited at start:\n" + self.log())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise BenchError("nginx did not listen within 10 s:\n" + self.log())

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            stop_process(self.process)

    def log(self) -> str:
        path = self.dir / "nginx-error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def pids(self) -> list[int]:
        if self.process is None or self.process.poll() is not None:
            return []
        return [self.process.pid, *children(self.process.pid)]


# --- the deployment ---------------------------------------------------------------------------


# PostgreSQL's connections the app's processes may hold together: its max_connections (100 by
# default) less room for the benchmark's own and an administrator's. The app's pool (10 kept,
# 20 more when busy, per process) fits two processes; with more, each gets its share.
POSTGRES_CONNECTIONS = 80


def pool_for(processes: int, env: dict[str, str]) -> dict[str, str]:
    """DATABASE_POOL_SIZE and DATABASE_MAX_OVERFLOW for `processes` app processes on one
    PostgreSQL (docs/deployment.md), unless the environment sets them already."""
    if env.get("DATABASE_POOL_SIZE") or env.get("DATABASE_MAX_OVERFLOW"):
        return {}
    share = POSTGRES_CONNECTIONS // processes
    if share >= 30:
        return {}
    size = max(1, min(10, share // 2))
    return {"DATABASE_POOL_SIZE": str(size), "DATABASE_MAX_OVERFLOW": str(max(0, share - size))}


class Deployment:
    """One server under test: `app` (the real workshop app) or `bare` (bench/bare_server.py),
    in `processes` gunicorn processes (behind nginx and Redis when more than one)."""

    def __init__(self, target: str, processes: int = 1, database: str = "sqlite",
                 postgres_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                 redis_url: str = "redis://127.0.0.1:6379/14", keep_logs: Path | None = None,
                 worker_hook: str = ""):
        """`worker_hook`: Python source added to the servers' gunicorn config; a function
        `bench_post_worker_init(worker)` in it runs in each worker after it starts."""
        self.target, self.processes = target, processes
        self.worker_hook = worker_hook
        self.database = "postgres" if processes > 1 and target == "app" else database
        self.postgres_url, self.redis_url = postgres_url, redis_url
        self.keep_logs = keep_logs
        self.stack = ExitStack()
        self.workdir: Path | None = None
        self.masters: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.nginx: Nginx | None = None
        self.env: dict[str, str] = {}
        self.url = ""
        self.database_url = ""
        self.channel = ""

    # --- start / stop ---------------------------------------------------------------------

    def __enter__(self) -> Deployment:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            for master in self.masters:
                stop_process(master)
            if self.keep_logs is not None and self.workdir is not None:
                self.keep_logs.mkdir(parents=True, exist_ok=True)
                for log in self.workdir.glob("*.log"):
                    shutil.copy(log, self.keep_logs / log.name)
            if self.target == "bare" and self.processes > 1:
                self._clear_redis()
        finally:
            self.stack.close()  # nginx, database, temp dir (in reverse order)

    def _clear_redis(self) -> None:
        """The bare server's shared state for this run (its keys carry the run's channel)."""
        import redis

        try:
            r = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
            keys = list(r.scan_iter(match=f"bare:{self.channel}:*", count=1000))
            for i in range(0, len(keys), 500):
                r.delete(*keys[i:i + 500])
        except redis.RedisError:
            pass

    def _start(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"samskab-bench-{self.target}-"))
        self.stack.callback(shutil.rmtree, self.workdir, ignore_errors=True)
        self.ports = [free_port() for _ in range(self.processes)]
        if self.processes > 1:
            self.nginx = self.stack.enter_context(Nginx(self.workdir, self.ports))
            public = f"http://127.0.0.1:{self.nginx.port}"
        else:
            public = f"http://127.0.0.1:{self.ports[0]}"
        self.url = public
        self.channel = f"samskab-bench-{uuid.uuid4().hex[:10]}"
        env = {k: v for k, v in os.environ.items()
               if k not in ("REDIS_URL", "FLASK_APP", "FLASK_DEBUG", "DATABASE_URL")}
        env.update({
            "SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "PUBLIC_URL": public,
            # Joins from one loopback address: the per-address join limit would refuse a
            # crowd. The limiter stays on (its cost is measured) with a limit no run reaches.
            "RATELIMIT_JOIN": "1000000 per minute",
            "RATELIMIT_PARTICIPANT_WRITE": "1000000 per minute",
            "PYTHONUNBUFFERED": "1",
        })
        if self.processes > 1:
            env["REDIS_URL"] = self.redis_url
            env["SOCKETIO_CHANNEL"] = self.channel
            self._check_redis()
        if self.target == "app":
            if self.database == "postgres":
                self.database_url = self.stack.enter_context(PostgresDatabase(self.postgres_url))
            else:
                self.database_url = f"sqlite:///{self.workdir / 'bench.sqlite3'}"
            env["DATABASE_URL"] = self.database_url
            if self.database == "postgres":
                env.update(pool_for(self.processes, env))
        self.env = env
        if self.target == "app":
            migrated = self.flask("db", "upgrade")
            if migrated.returncode != 0:
                raise BenchError(f"flask db upgrade failed:\n{migrated.stderr[-3000:]}")
        for index, port in enumerate(self.ports):
            self.masters.append(self._gunicorn(index, port))
        for index, master in enumerate(self.masters):
            self._wait_answering(index, master)

    def kill(self, index: int = 0) -> None:
        """SIGKILL one server process (its master and worker): no shutdown of any kind."""
        master = self.masters[index]
        try:
            os.killpg(master.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        master.wait(timeout=10)

    def restart(self, index: int = 0) -> None:
        """Start a killed server process again on its port, and wait until it answers."""
        self.masters[index] = self._gunicorn(index, self.ports[index])
        self._wait_answering(index, self.masters[index])

    def _check_redis(self) -> None:
        import redis

        try:
            redis.Redis.from_url(self.redis_url, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            raise BenchError(f"Redis is not reachable at {self.redis_url}: {error}") from None

    def _gunicorn(self, index: int, port: int) -> subprocess.Popen:
        log = open(self.workdir / f"{self.target}-{index}.log", "ab")  # a restart appends
        app = "workshop.wsgi:app" if self.target == "app" else "bare_server:app"
        extra = [] if self.target == "app" else ["--pythonpath", str(BENCH)]
        config = self.workdir / "gunicorn_bench.conf.py"
        config.write_text(GC_LOG_CONFIG.format(root_config=str(ROOT / "gunicorn.conf.py"),
                                               workdir=str(self.workdir))
                          + "\n\n" + self.worker_hook)
        # The Procfile's web line, on a loopback port (its settings plus the collector's log).
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", str(config), "--worker-class", "gevent",
             "--workers", "1", "--worker-connections", "10000", "--bind",
             f"127.0.0.1:{port}", *extra, app],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        return process

    def _wait_answering(self, index: int, master: subprocess.Popen) -> None:
        import requests

        url = f"http://127.0.0.1:{self.ports[index]}/api/v1/openapi.json"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if master.poll() is not None:
                raise BenchError(f"the {self.target} server exited with {master.returncode}:\n"
                                 + self.log(index))
            try:
                if requests.get(url, timeout=2).status_code == 200 and self.workers()[index]:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"the {self.target} server did not answer within "
                                 f"{START_TIMEOUT:.0f} s:\n" + self.log(index))
            time.sleep(0.2)

    def log(self, index: int = 0) -> str:
        path = self.workdir / f"{self.target}-{index}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "flask"), "--app", "workshop", *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=120)

    # --- readings ---------------------------------------------------------------------------

    def workers(self) -> list[int | None]:
        """The gunicorn worker pid of each process (the master only supervises)."""
        out = []
        for master in self.masters:
            kids = children(master.pid)
            out.append(kids[0] if kids else None)
        return out

    def server_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.workers() if pid)

    def server_memory(self) -> dict[str, int]:
        rss = hwm = 0
        for pid in self.workers():
            if pid:
                m = memory_kb(pid)
                rss, hwm = rss + m["rss_kb"], hwm + m["hwm_kb"]
        return {"rss_kb": rss, "hwm_kb": hwm}

    def gc_pauses(self, since: float, until: float) -> dict:
        """The cycle collector's pauses between two wall-clock times, in every worker (see
        GC_LOG_CONFIG): per generation, how many, their milliseconds in all and the longest."""
        out = {str(g): {"count": 0, "total_ms": 0.0, "max_ms": 0.0} for g in range(3)}
        for path in sorted(self.workdir.glob("gc-*.log")) if self.workdir else ():
            for line in path.read_text().splitlines():
                try:
                    wall, generation, ms, _collected = line.split()
                    wall, ms = float(wall), float(ms)
                except ValueError:
                    continue  # a line cut short by a killed worker
                if since <= wall <= until and generation in out:
                    row = out[generation]
                    row["count"] += 1
                    row["total_ms"] = round(row["total_ms"] + ms, 3)
                    row["max_ms"] = max(row["max_ms"], ms)
        return out

    def nginx_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.nginx.pids()) if self.nginx else 0.0

    def sockets_per_worker(self) -> list[int]:
        return [socket_count(pid) if pid else 0 for pid in self.workers()]

    # --- the app's setup --------------------------------------------------------------------

    def create_facilitator(self) -> tuple[str, str]:
        email = f"bench-{uuid.uuid4().hex[:6]}@region.dk"
        if self.target == "app":
            made = self.flask("users", "create", email, "--password", PASSWORD,
                              "--role", "facilitator", "--name", "Benchmark")
            if made.returncode != 0:
                raise BenchError(f"flask users create failed:\n{made.stderr[-2000:]}")
        return email, PASSWORD

    def presenter_key(self, code: str) -> str:
        """Read from the benchmark's own database (the API does not show it), or the bare
        server's fixed key."""
        if self.target != "app":
            return "bare-presenter-key"
        from sqlalchemy import create_engine, text

        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                key = conn.execute(text("SELECT presenter_key FROM workshop WHERE code = :c"),
                                   {"c": code}).scalar()
        finally:
            engine.dispose()
        if not key:
            raise BenchError(f"workshop {code} has no presenter key")
        return key
