"""The WSGI entry point for gunicorn: `gunicorn -k gevent -w 1 workshop.wsgi:app`."""

import sys

from . import create_app
from .config import ConfigError
from .heap import tune_gc

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
