"""Samskab: live co-creation workshops between a region and civil society.

`create_app()` is the application factory: it reads the configuration, binds the extensions,
registers the blueprints (pages, JSON API), the Socket.IO handlers and the CLI commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request
from flask.ctx import RequestContext
from flask_babel import get_locale

from .config import ROOT, Config, engine_options
from .extensions import babel, csrf, db, limiter, login_manager, migrate

LOCALE_COOKIE = "samskab_lang"


def select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # the CLI, a background task: the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.args.get("lang") or request.cookies.get(LOCALE_COOKIE)
    if chosen in languages:
        return chosen
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    # Pages are Danish until a person picks English (many Danes browse with English phones);
    # API clients choose their error messages' language with Accept-Language.
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(languages) or default
    return default


def compile_catalogs(app: Flask) -> None:
    """Compile a translation catalog (.po -> .mo) that is missing or older than its source.

    `make` compiles them when it installs (the .mo files are not in git); this covers a server
    or test run started some other way. It writes next to the .po through a temporary file, so
    processes starting together never read half a file; a read-only checkout just logs."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    directory = Path(app.config["BABEL_TRANSLATION_DIRECTORIES"])
    for po_path in directory.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        try:
            with po_path.open("rb") as f:
                catalog = read_po(f, locale=po_path.parent.parent.name)
            partial = mo_path.with_name(f".messages.{os.getpid()}.mo")
            with partial.open("wb") as f:
                write_mo(f, catalog)
            os.replace(partial, mo_path)
        except OSError as error:
            app.logger.warning("could not compile %s: %s", po_path, error)


class Samskab(Flask):
    """Flask, with the class of its request contexts a setting, as its session interface is:
    create_app sets one that keeps a live connection's URL match (live/sessions.py), since
    Flask-SocketIO builds a request context from the connection's environ for every event."""

    request_context_class: type[RequestContext] = RequestContext

    def request_context(self, environ: dict) -> RequestContext:
        return self.request_context_class(self, environ)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Samskab(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(Config())
    if config:
        app.config.update(config)
    # The pool follows the database the app ends up with (unless given outright).
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                          engine_options(app.config["SQLALCHEMY_DATABASE_URI"],
                                         app.config.get("DATABASE_POOL_SIZE"),
                                         app.config.get("DATABASE_MAX_OVERFLOW")))

    from .live.sessions import LiveRequestContext, LiveSessionInterface

    # What a live connection's events share, worked out once: its session and its URL match.
    app.session_interface = LiveSessionInterface()
    app.request_context_class = LiveRequestContext
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    compile_catalogs(app)
    csrf.init_app(app)
    limiter.init_app(app)
    _init_sqlite(app)

    from . import models  # noqa: F401  (registers the tables)
    from .api import bp as api_bp
    from .security import register_security
    from .web import register_web

    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # the API is JSON-only with an Origin check instead
    register_web(app)
    from .ops import bp as ops_bp
    from .web.present import bp as present_bp

    app.register_blueprint(present_bp)
    app.register_blueprint(ops_bp)
    register_security(app)

    from .live import init_live

    init_live(app)

    from .logs import init_logging

    init_logging(app)

    from .cli import register_cli
    from .cli_backup import register_backup_cli

    register_cli(app)
    register_backup_cli(app)

    @app.context_processor
    def inject_globals():
        return {
            "current_locale": str(get_locale()),
            "languages": app.config["LANGUAGES"],
            "accessibility_statement_url": app.config["ACCESSIBILITY_STATEMENT_URL"],
        }

    @app.after_request
    def remember_language(response):
        chosen = request.args.get("lang")
        if chosen in app.config["LANGUAGES"] and not getattr(g, "lang_cookie_set", False):
            response.set_cookie(
                LOCALE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax",
                secure=app.config["SESSION_COOKIE_SECURE"], httponly=True,
            )
        return response

    return app


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite in WAL mode with a busy timeout, so readers never wait for a writer."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _init_sqlite(app: Flask) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _sqlite_pragmas):
        event.listen(Engine, "connect", _sqlite_pragmas)
