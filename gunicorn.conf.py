"""gunicorn's settings for Samskab's server.

gunicorn reads `./gunicorn.conf.py` from the directory it runs in, so every way this repository
starts the server uses them: the Procfile, `make run`, the tests' real servers and the
benchmark (the bare baseline included). Flags on a command line override them.
"""

# With the gevent worker, gunicorn's keep-alive timeout is also how long a new connection may
# wait for its first request line and headers, and that time runs on the worker's event loop:
# when the loop is busy (a voting burst), a connection accepted just before a client's
# request arrived could be closed without a response ("Remote end closed connection without
# response") at gunicorn's default of 2 s. A deployment behind nginx gets nginx's own
# header timeout for slow clients in front of it; keep this below gunicorn's 30 s graceful
# timeout, so that a restart is not held up by idle keep-alive connections.
keepalive = 10
