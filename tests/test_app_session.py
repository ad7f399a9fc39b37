"""The approval app's session: a signed, expiring cookie from a configured secret; forged or stale ones refused."""

from __future__ import annotations

import http.client
import os
import stat
import subprocess
import sys
import time
from urllib.parse import urlencode, urlparse

import pytest
from tornado.web import create_signed_value

from workbench.dashboard import AppConfigError, cookie_secret, session_hours

PASSWORD = "demo-password"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project with the demonstration users (no model needed to log in)."""
    from workbench.governance import DEMO_USERS, UserStore

    (tmp_path / "registry_store").mkdir()
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    for name in ("WORKBENCH_APP_COOKIE_SECRET", "WORKBENCH_APP_COOKIE_SECRET_FILE", "WORKBENCH_APP_SESSION_HOURS"):
        monkeypatch.delenv(name, raising=False)
    users = UserStore(tmp_path / "registry_store" / "governance" / "users.json")
    for name, roles in DEMO_USERS.items():
        users.add(name, roles, PASSWORD)
    return tmp_path


def test_the_cookie_secret_is_created_once_private_and_kept(project):
    first = cookie_secret()
    path = project / "secrets" / "app_cookie.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) == 64
    assert cookie_secret() == first  # the same secret on every start: sessions survive a restart


def test_a_short_or_unreadable_secret_and_a_bad_session_length_are_named(project, monkeypatch):
    monkeypatch.setenv("WORKBENCH_APP_COOKIE_SECRET", "short")
    with pytest.raises(AppConfigError, match="WORKBENCH_APP_COOKIE_SECRET: .* at least 32 characters"):
        cookie_secret()
    monkeypatch.delenv("WORKBENCH_APP_COOKIE_SECRET")
    garbled = project / "garbled.key"
    garbled.write_bytes(b"\xff\xfe\x00 not text")
    monkeypatch.setenv("WORKBENCH_APP_COOKIE_SECRET_FILE", str(garbled))
    with pytest.raises(AppConfigError, match="garbled.key: the app's cookie secret cannot be read"):
        cookie_secret()
    monkeypatch.setenv("WORKBENCH_APP_COOKIE_SECRET_FILE", str(project / "absent.key"))
    with pytest.raises(AppConfigError, match="absent.key: the app's cookie secret cannot be read"):
        cookie_secret()  # a named file that is missing is not silently created
    for bad in ("soon", "0", "-1", "1000"):
        monkeypatch.setenv("WORKBENCH_APP_SESSION_HOURS", bad)
        with pytest.raises(AppConfigError, match="WORKBENCH_APP_SESSION_HOURS"):
            session_hours()
    monkeypatch.setenv("WORKBENCH_APP_SESSION_HOURS", "0.5")
    assert session_hours() == 0.5


def test_the_app_command_refuses_a_short_secret_with_its_name(project):
    env = dict(os.environ, WORKBENCH_HOME=str(project), WORKBENCH_APP_COOKIE_SECRET="too-short")
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "app", "--port", "1"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "WORKBENCH_APP_COOKIE_SECRET: the app's cookie secret must be at least 32 characters" in done.stderr
    assert "Traceback" not in done.stderr


def _get(url: str, cookies: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """One GET without following redirects."""
    parts = urlparse(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())} if cookies else {}
    connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
    return connection.getresponse()


def _post_login(url: str, user: str, password: str) -> http.client.HTTPResponse:
    parts = urlparse(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    body = urlencode({"username": user, "password": password})
    connection.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    return connection.getresponse()


def _signed(secret: str, value: str, age_hours: float = 0.0) -> str:
    return create_signed_value(secret, "user", value, clock=lambda: time.time() - age_hours * 3600).decode()


def test_only_a_fresh_cookie_signed_with_the_secret_opens_the_app(project):
    from test_app_browser import _approval_app

    with _approval_app(project) as url:
        secret = cookie_secret()  # the app created it in the project at start
        anonymous = _get(url + "?model=german_credit&version=1")
        assert anonymous.status == 302
        assert anonymous.getheader("Location") == "./login?next=%2Fapp%3Fmodel%3Dgerman_credit%26version%3D1"
        # a real login sets Tornado's signed, HttpOnly cookie and goes back to the app
        login = _post_login(url, "helen", PASSWORD)
        assert login.status == 302 and login.getheader("Location") == "/app"
        cookie = next(c for c in login.headers.get_all("Set-Cookie") if c.startswith("user="))
        assert "httponly" in cookie.lower() and "expires=" in cookie.lower()
        value = cookie.split(";", 1)[0].split("=", 1)[1].strip('"')
        assert _get(url, {"user": value}).status == 200
        # a wrong password: back to the login page with the reason, no cookie
        refused = _post_login(url, "helen", "not-her-password")
        assert refused.status == 302 and "error=authentication+failed" in refused.getheader("Location")
        assert not any(c.startswith("user=") for c in refused.headers.get_all("Set-Cookie") or [])
        # forged: the user name edited, or signed with another secret
        assert "|8:aGVsZW4=|" in value  # Tornado's format: the name in base64, then the HMAC
        assert _get(url, {"user": value.replace("|8:aGVsZW4=|", "|4:YWRh|")}).status == 302  # "ada"
        assert _get(url, {"user": _signed("x" * 64, "ada")}).status == 302
        assert _get(url, {"user": "ada"}).status == 302
        # stale: signed with the right secret 9 hours ago, past the 8-hour session
        assert _get(url, {"user": _signed(secret, "helen", age_hours=9)}).status == 302
        assert _get(url, {"user": _signed(secret, "helen", age_hours=7)}).status == 200


def test_a_valid_cookie_of_a_user_removed_since_opens_nothing(project):
    """The cookie names who logged in; the roles are read when a page opens, so a removed user gets no view."""
    from workbench.dashboard import Dashboard

    removed = Dashboard(user_name="ghost")
    assert removed.user is None
    assert "no user named &#x27;ghost&#x27;" in removed.root[0].object and "logout" in removed.root[0].object
    assert not hasattr(removed, "tabs")
    helen = Dashboard(user_name="helen")
    assert helen.user is not None and helen.user.roles == ["approver"]
    assert len(helen.tabs) == 4  # inventory, version, monitoring, audit log
