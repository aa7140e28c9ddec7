"""The WSGI entry point for gunicorn: `gunicorn -k gevent -w 1 workshop.wsgi:app`."""

import sys

from . import create_app
from .config import ConfigError
from .heap import tune_gc
from .wal import take_over

# gunicorn stops the whole server (instead of restarting the worker forever) when a worker
# exits with this code: "App failed to load".
APP_LOAD_ERROR = 4

try:
    app = create_app()
except ConfigError as error:
    print(error, file=sys.stderr, flush=True)
    sys.exit(APP_LOAD_ERROR)

# Only in the server: tests and `flask` commands keep Python's own collector settings.
tune_gc(app.config["GC_THRESHOLDS"])
# Only in the server: SQLite's WAL checkpoints leave the event loop (workshop/wal.py).
checkpointer = take_over(app, app.config["SQLITE_CHECKPOINT_INTERVAL"])
