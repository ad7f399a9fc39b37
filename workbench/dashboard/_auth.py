"""Logging in to the approval app: Panel's basic-auth provider, checking passwords against the workbench's users.

The session is Tornado's signed cookie (``set_secure_cookie``: HMAC-SHA256 over the user name and the time
it was issued), set by Panel's :class:`~panel.auth.BasicLoginHandler` and checked by Panel on every page and
websocket with a maximum age, so a login survives a reload and expires by itself. What is ours: the password
check goes through :meth:`UserStore.authenticate` (scrypt, throttled, audited, exactly as the CLI's), the
cookie secret and the session length come from configuration, and the login and logout pages load nothing
from the internet (Panel's own link its CDN).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

from panel.auth import BasicAuthProvider, BasicLoginHandler, LogoutHandler
from panel.io.resources import _env as _panel_templates
from tornado.escape import url_escape

from workbench.governance import AuthenticationError, UserError, UserStore
from workbench.paths import project_root

__all__ = [
    "SECRET_ENV",
    "SESSION_HOURS_ENV",
    "AppConfigError",
    "WorkbenchAuthProvider",
    "cookie_secret",
    "session_hours",
]

SECRET_ENV = "WORKBENCH_APP_COOKIE_SECRET"
SECRET_FILE_ENV = "WORKBENCH_APP_COOKIE_SECRET_FILE"
SESSION_HOURS_ENV = "WORKBENCH_APP_SESSION_HOURS"
MIN_SECRET_LENGTH = 32
_TEMPLATES = Path(__file__).resolve().parent / "templates"


class AppConfigError(ValueError):
    """The app's configuration (cookie secret, session length) is unusable; the message names the setting."""


def _secret_path() -> Path:
    configured = os.environ.get(SECRET_FILE_ENV)
    return Path(configured).expanduser() if configured else project_root() / "secrets" / "app_cookie.key"


def cookie_secret() -> str:
    """The secret that signs session cookies: ``WORKBENCH_APP_COOKIE_SECRET``, else the file named by
    ``WORKBENCH_APP_COOKIE_SECRET_FILE``, else ``secrets/app_cookie.key`` in the project (created once, mode
    0600, beside the audit key and never in ``registry_store/``). Changing it logs everybody out."""
    value = os.environ.get(SECRET_ENV)
    source = SECRET_ENV
    if value is None:
        path = _secret_path()
        source = str(path)
        if not path.exists() and not os.environ.get(SECRET_FILE_ENV):
            path.parent.mkdir(parents=True, exist_ok=True)
            try:  # O_EXCL: two apps starting at once agree on the first one's secret
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(secrets.token_hex(32) + "\n")
        try:
            value = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise AppConfigError(f"{source}: the app's cookie secret cannot be read ({error})") from None
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise AppConfigError(
            f"{source}: the app's cookie secret must be at least {MIN_SECRET_LENGTH} characters "
            f"(it has {len(value)}); e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return value


def session_hours() -> float:
    """How long a login lasts (``WORKBENCH_APP_SESSION_HOURS``, default 8: a working day)."""
    raw = os.environ.get(SESSION_HOURS_ENV, "8")
    try:
        hours = float(raw)
    except ValueError:
        hours = float("nan")
    if not 0 < hours <= 24 * 30:
        raise AppConfigError(f"{SESSION_HOURS_ENV}: {raw!r} is not a number of hours between 0 and 720")
    return hours


def _same_site_path(url: str | None, default: str) -> str:
    """Where to go after login: only a path on this server (an open redirect would help phishing)."""
    if not url:
        return default
    parts = urlparse(url)
    if parts.scheme or parts.netloc or "\\" in url or not url.startswith("/") or url.startswith("//"):
        return default
    return url


class _LoginHandler(BasicLoginHandler):
    """Panel's login page and cookie; the password checked by the workbench's user store."""

    _login_template = _panel_templates.from_string((_TEMPLATES / "login.html").read_text("utf-8"))

    async def post(self) -> None:
        name = self.get_argument("username", "").strip()
        secret = self.get_argument("password", "")
        # scrypt takes a moment: off the event loop, so other sessions keep answering
        authenticate = partial(UserStore().authenticate, name, secret, channel="app")
        try:
            user = await asyncio.get_running_loop().run_in_executor(None, authenticate)
        except (AuthenticationError, UserError) as error:
            self.redirect(f"{self.request.path}?error={url_escape(str(error))}")
            return
        self.set_current_user(user.name)
        self.clear_cookie("next_url")
        self.redirect(_same_site_path(self.get_cookie("next_url"), "/app"))


class _LogoutHandler(LogoutHandler):
    _logout_template = _panel_templates.from_string((_TEMPLATES / "logout.html").read_text("utf-8"))


class WorkbenchAuthProvider(BasicAuthProvider):
    """Panel's basic-auth provider with the workbench's login check and pages."""

    @property
    def login_handler(self):
        return _LoginHandler

    @property
    def logout_handler(self):
        return _LogoutHandler
