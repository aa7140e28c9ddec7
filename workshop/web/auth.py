"""Staff login and logout pages."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from ..domain.users import authenticate, end_sessions
from ..extensions import limiter
from ..security import login_account_limit

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Adgangskode"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("Log ind"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Log ud"))


def landing_for(user) -> str:
    if user.role == "reviewer":
        return url_for("review.index")
    return url_for("facilitate.index")


def _safe_next(target: str | None) -> str | None:
    """Only local paths: never send someone off-site after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
@login_account_limit()
def login():
    if current_user.is_authenticated:
        return redirect(landing_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append(_("Forkert e-mail eller adgangskode."))
        else:
            next_url = _safe_next(request.args.get("next"))
            session.clear()  # a fresh session on every login
            login_user(user)
            return redirect(next_url or landing_for(user))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        # Every session and live connection of this user ends, not only this browser's.
        end_sessions(current_user)
        logout_user()
        session.clear()
        flash(_("Du er logget ud."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html", form=form)
