"""Server-rendered pages: auth, facilitate, participate, review."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton
from flask import Flask
from flask_babel import format_decimal, get_locale

from ..domain.users import user_for_session
from ..extensions import login_manager


def register_web(app: Flask) -> None:
    from ..api import register_api_errors
    from .auth import bp as auth_bp
    from .facilitate import bp as facilitate_bp
    from .pages import bp as pages_bp
    from .participate import bp as participate_bp
    from .review import bp as review_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(facilitate_bp)
    app.register_blueprint(participate_bp)
    app.register_blueprint(review_bp)
    register_api_errors(app)

    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"

    register_filters(app)

    @login_manager.user_loader
    def load_user(user_id: str):
        # "<id>:<generation>": a session from before the user's last logout finds no one.
        return user_for_session(user_id)


LOCAL_ZONE = ZoneInfo("Europe/Copenhagen")


def register_filters(app: Flask) -> None:
    """Small presentation helpers for the templates."""

    @app.template_filter("score")
    def score(value) -> str:
        """A ranking score: whole numbers as they are, fractions with up to two decimals."""
        return format_decimal(float(value), format="#,##0.##")

    @app.template_filter("localtime")
    def localtime(value) -> str:
        """A moment in Danish time, written the way the page's language writes dates."""
        if value is None:
            return ""
        if value.tzinfo is None:  # SQLite gives naive datetimes; they are stored in UTC
            value = value.replace(tzinfo=UTC)
        locale = Locale.parse(str(get_locale()))
        moment = value.astimezone(LOCAL_ZONE)
        return str(locale.datetime_formats["medium"]).format(
            format_skeleton("Hm", moment, locale=locale),
            format_skeleton("yMMMd", moment, locale=locale))

    @app.template_global()
    def bar_class(value, maximum) -> str:
        """A width class in steps of 5 % (the CSP allows no inline style)."""
        if not maximum or not value:
            return "w-0"
        step = max(1, round(float(value) / float(maximum) * 20))
        return f"w-{step * 5}"
