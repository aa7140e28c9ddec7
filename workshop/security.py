"""Security defaults for every response, the Origin rule shared by the API and sockets, and the
keys that rate limits count by."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins() -> set[str]:
    """The public address, plus the address this request came in on (a laptop, a test)."""
    origins = {origin_of(current_app.config["PUBLIC_URL"])}
    extra = current_app.config.get("ALLOWED_ORIGINS") or ()
    origins.update(origin_of(o) for o in extra)
    try:
        origins.add(origin_of(request.host_url))
    except RuntimeError:  # outside a request
        pass
    return origins


def origin_allowed(origin: str | None) -> bool:
    """A request without an Origin header is not cross-site; one naming another site is."""
    if not origin:
        return True
    return origin.lower().rstrip("/") in allowed_origins()


# --- Content-Security-Policy -----------------------------------------------------------------

CSP_BASE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
# Kept for callers that want the policy of an ordinary page (without connect-src's host).
CSP = CSP_BASE + "; connect-src 'self'; frame-ancestors 'none'"

PRESENTER_PREFIX = "/present/"


def _socket_sources() -> str:
    """'self', plus this host's WebSocket address (older Safari does not count ws: as 'self')."""
    host = request.host
    scheme = "wss" if request.is_secure else "ws"
    return f"'self' {scheme}://{host}"


def frame_ancestors(path: str, configured: tuple[str, ...]) -> str:
    """Nobody may frame a page, except the presenter screen by the hosts configured for it."""
    if path.startswith(PRESENTER_PREFIX) and configured:
        return " ".join(configured)
    return "'none'"


def content_security_policy(path: str, configured: tuple[str, ...]) -> str:
    return (f"{CSP_BASE}; connect-src {_socket_sources()}; "
            f"frame-ancestors {frame_ancestors(path, configured)}")


def presenter_frame_ancestors(raw: str | None) -> tuple[str, ...]:
    """PRESENTER_FRAME_ANCESTORS: origins separated by spaces or commas; nothing else is kept.

    Only https origins (or 'self') may be named, so that a typo cannot open framing to all.
    """
    kept = []
    for item in (raw or "").replace(",", " ").split():
        if item == "'self'":
            kept.append(item)
            continue
        parts = urlsplit(item)
        if parts.scheme == "https" and parts.netloc and "*" not in parts.netloc \
                and ";" not in item and "'" not in item:
            kept.append(f"https://{parts.netloc.lower()}")
    return tuple(kept)


# --- Rate-limit keys -------------------------------------------------------------------------


def client_address() -> str:
    """The client's address (behind TRUSTED_PROXIES proxies, the one they saw)."""
    return request.remote_addr or "unknown"


PARTICIPANT_WRITE_SCOPE = "participant-write"
PARTICIPANT_VOTE_SCOPE = "participant-vote"


LOGIN_ACCOUNT_SCOPE = "login-account"


def login_account_key() -> str:
    """Failed logins are also counted per account (the e-mail tried), from any address: a
    password guessed from many addresses is stopped too. Only failures count (see the
    `deduct_when` where it is used), so a person who logs in is never slowed down."""
    email = None
    if request.is_json:
        data = request.get_json(silent=True)
        email = data.get("email") if isinstance(data, dict) else None
    else:
        email = request.form.get("email")
    if not isinstance(email, str):
        email = ""
    return "account:" + email.strip().lower()[:254]


def failed_login(response) -> bool:
    """A login that was refused (wrong e-mail or password, or an invalid form)."""
    return response.status_code in (400, 401)


def login_account_limit():
    """The per-account limit on failed logins, shared by the login page and the API."""
    from .extensions import limiter

    return limiter.shared_limit(lambda: current_app.config["RATELIMIT_LOGIN_ACCOUNT"],
                                scope=LOGIN_ACCOUNT_SCOPE, key_func=login_account_key,
                                methods=["POST"], deduct_when=failed_login)


def participant_rate_key() -> str:
    """Actions are counted per participant, not per address (a venue shares one address).

    The participant is the one the request's own cookie resolves to for the workshop in the
    URL, so that sending extra or made-up cookies does not give a fresh allowance; a request
    without a real participant is counted by its address.
    """
    from .domain.errors import DomainError
    from .identity import participant_for

    workshop = None
    args = request.view_args or {}
    try:
        if "code" in args:
            from .domain.workshops import get_workshop

            workshop = get_workshop(args["code"])
        elif "proposal_id" in args:
            from .extensions import db
            from .models import Proposal, Workshop

            proposal = db.session.get(Proposal, args["proposal_id"])
            workshop = db.session.get(Workshop, proposal.workshop_id) if proposal else None
    except (DomainError, OverflowError):
        workshop = None
    participant = participant_for(workshop) if workshop is not None else None
    if participant is not None:
        return f"p:{participant.id}"
    return "addr:" + client_address()


# HTTPS only, for a year, subdomains included: pages and engine.io's answers alike.
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")

# What engine.io's own answers carry (long-polling requests, the handshake, its errors):
# nothing in them is a page, to be framed, sniffed, cached or fetched by another site.
SOCKET_RESPONSE_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)


class SocketResponseHeaders:
    """WSGI middleware: the security headers on engine.io's answers.

    Flask-SocketIO's middleware answers every HTTP request to the Socket.IO path itself,
    before Flask, so `security_headers` below never sees them. A WebSocket upgrade sends its
    own handshake on the socket and never calls `start_response`: nothing is added there."""

    def __init__(self, app, path: str, secure: bool = False):
        self.app = app
        self.prefix = "/" + path.strip("/")
        self.headers = SOCKET_RESPONSE_HEADERS + ((HSTS,) if secure else ())

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or ""
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            return self.app(environ, start_response)

        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            extra = [(name, value) for name, value in self.headers
                     if name.lower() not in present]
            return start_response(status, list(headers) + extra, exc_info)

        return self.app(environ, start)


def register_security(app: Flask) -> None:
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0 and not getattr(app.wsgi_app, "samskab_proxy_fix", False):
        # Rate limits per address need the client's address, not the load balancer's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0)
        app.wsgi_app.samskab_proxy_fix = True

    framers = presenter_frame_ancestors(app.config.get("PRESENTER_FRAME_ANCESTORS"))

    @app.after_request
    def security_headers(response):
        path = request.path
        response.headers["Content-Security-Policy"] = content_security_policy(path, framers)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not (path.startswith(PRESENTER_PREFIX) and framers):
            response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE") or request.is_secure:
            response.headers.setdefault(*HSTS)
        if request.path.startswith("/api/") or _is_personal(request.path):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _is_personal(path: str) -> bool:
    """Pages with a person's data: never kept by a shared computer's cache or a proxy."""
    return path.startswith(("/w/", "/facilitate", "/review", "/login", "/logout"))
