"""Security events in the audit trail, login throttling in the store, the CLI and the app, and a damaged users
file that fails cleanly."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.governance import AuditTrail, AuthenticationError, LoginPolicy, LoginThrottle, UserError, UserStore

PASSWORD = "right-password"
runner = CliRunner()


class Clock:
    """A clock the test moves (no sleeping)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def store_with(tmp_path, clock: Clock | None = None, policy: LoginPolicy | None = None) -> UserStore:
    folder = tmp_path / "registry_store" / "governance"
    store = UserStore(folder / "users.json", AuditTrail(folder / "audit.jsonl"))
    store._throttle = LoginThrottle(folder / "logins.json", policy or LoginPolicy(), clock or Clock())
    return store


def test_user_changes_tokens_and_logins_are_audited(tmp_path):
    store = store_with(tmp_path)
    store.add("ada", ["admin"], PASSWORD)
    store.add("los", ["client"], PASSWORD, actor="ada")
    store.set_roles("los", ["client", "developer"], actor="ada")
    token = store.issue_token("los", "branch system", actor="ada")
    assert store.revoke_tokens("los", actor="ada") == 1
    with pytest.raises(AuthenticationError):
        store.authenticate("los", "wrong-password", channel="app")
    store.unlock("los", actor="ada")
    store.remove("los", actor="ada")
    records = store.audit.records()
    assert [r["action"] for r in records] == [
        "user_add",
        "user_add",
        "user_roles",
        "token_issue",
        "token_revoke",
        "login_failed",
        "user_unlock",
        "user_remove",
    ]
    assert records[2]["before"] == "client" and records[2]["after"] == "developer,client"
    assert records[3]["details"]["label"] == "branch system" and token not in json.dumps(records)
    assert records[5]["outcome"] == "refused" and records[5]["details"] == {"failures": 1, "channel": "app"}
    assert all(r["target"] == f"user:{r['target'][5:]}" for r in records) and store.audit.verify() == []


def test_wrong_passwords_cost_growing_waits_then_lock_the_account(tmp_path):
    clock = Clock()
    store = store_with(tmp_path, clock)
    store.add("helen", ["approver"], PASSWORD)
    for _ in range(5):
        with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
            store.authenticate("helen", "guess-guess")
    with pytest.raises(AuthenticationError, match="try again in 1 s"):
        store.authenticate("helen", PASSWORD)  # even the right password waits: guessing gains nothing
    clock.now += 1
    for wait in (2, 4, 8, 16):  # the 6th to 9th failures double the wait
        with pytest.raises(AuthenticationError, match="wrong password"):
            store.authenticate("helen", "guess-guess")
        with pytest.raises(AuthenticationError, match=f"try again in {wait} s"):
            store.authenticate("helen", "guess-guess")
        clock.now += wait
    with pytest.raises(AuthenticationError, match="wrong password"):
        store.authenticate("helen", "guess-guess")  # the 10th
    clock.now += 60
    with pytest.raises(AuthenticationError, match="helen is locked after 10 failed attempts for another 14 minute"):
        store.authenticate("helen", PASSWORD)
    clock.now += 14 * 60
    assert store.authenticate("helen", PASSWORD).name == "helen"  # the lock expired
    actions = [r["action"] for r in store.audit.records()]
    assert actions.count("login_failed") == 10 and actions.count("login_throttled") == 6


def test_an_admin_unlocks_a_locked_account(tmp_path):
    store = store_with(tmp_path, policy=LoginPolicy(delay_after=100, lock_after=3))
    store.add("sam", ["deployer"], PASSWORD)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            store.authenticate("sam", "guess-guess")
    with pytest.raises(AuthenticationError, match="locked"):
        store.authenticate("sam", PASSWORD)
    assert store.unlock("sam", actor="ada")
    assert store.authenticate("sam", PASSWORD).name == "sam"


def test_the_policy_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("WORKBENCH_LOGIN_DELAY_AFTER", "2")
    monkeypatch.setenv("WORKBENCH_LOGIN_LOCK_AFTER", "4")
    monkeypatch.setenv("WORKBENCH_LOGIN_LOCK_MINUTES", "30")
    assert LoginPolicy.from_environment() == LoginPolicy(delay_after=2, lock_after=4, lock_minutes=30)
    monkeypatch.setenv("WORKBENCH_LOGIN_LOCK_AFTER", "ten")
    with pytest.raises(ValueError, match="WORKBENCH_LOGIN_LOCK_AFTER: 'ten' is not a number"):
        LoginPolicy.from_environment()


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "registry_store").mkdir()
    for name in ("MLFLOW_TRACKING_URI", "WORKBENCH_USERS", "WORKBENCH_AUDIT", "WORKBENCH_AUDIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    result = runner.invoke(app, ["users", "demo", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "secrets" / "audit.key").is_file()
    return tmp_path


def test_the_cli_throttles_guesses(project, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LOGIN_DELAY_AFTER", "3")
    monkeypatch.setenv("WORKBENCH_LOGIN_FIRST_DELAY", "30")
    command = ["finding", "m", "1", "--title", "t", "--remediation", "r", "--user", "marco"]
    for _ in range(3):
        result = runner.invoke(app, command, env={"WORKBENCH_PASSWORD": "guess-guess"})
        assert result.exit_code == 2 and "wrong password" in result.output
    result = runner.invoke(app, command, env={"WORKBENCH_PASSWORD": PASSWORD})
    assert result.exit_code == 2 and "too many failed attempts for marco; try again in 30 s" in result.output
    unlocked = runner.invoke(app, ["users", "unlock", "marco", "--as", "ada"], env={"WORKBENCH_PASSWORD": PASSWORD})
    assert unlocked.exit_code == 0 and "unlocked marco" in unlocked.output
    actions = [r["action"] for r in AuditTrail().records()]
    assert actions[-5:] == ["login_failed"] * 3 + ["login_throttled", "user_unlock"]


@pytest.mark.parametrize("damage", ["{not json", '["a", "list"]', '{"ada": {"roles": ["admin"]}}', ""])
def test_a_damaged_users_file_fails_cleanly(project, damage):
    users = project / "registry_store" / "governance" / "users.json"
    users.write_text(damage)
    trail = (project / "registry_store" / "governance" / "audit.jsonl").read_bytes()
    for command in (["users", "list"], ["inventory"][:0] or ["archive", "m", "1", "--user", "sam", "--reason", "r"]):
        result = runner.invoke(app, command, env={"WORKBENCH_PASSWORD": PASSWORD})
        assert result.exit_code == 2, result.output
        assert (
            f"{users}: the users file cannot be read" in result.output and "restore it from its backup" in result.output
        )
        assert "Traceback" not in result.output
    assert users.read_text() == damage
    assert (project / "registry_store" / "governance" / "audit.jsonl").read_bytes() == trail


def test_store_refuses_to_work_on_a_damaged_file(tmp_path):
    store = store_with(tmp_path)
    store.add("ada", ["admin"], PASSWORD)
    store.path.write_text("{")
    with pytest.raises(UserError, match="users.json: the users file cannot be read"):
        store.add("bob", ["developer"], PASSWORD)


def test_the_app_login_is_throttled_and_audited(project, monkeypatch):
    """The app's login page (Panel's login handler with the workbench's check), served by Tornado in-process."""
    import asyncio
    import socket
    from urllib.parse import unquote_plus, urlencode

    from tornado.httpclient import AsyncHTTPClient
    from tornado.web import Application

    from workbench.dashboard._auth import WorkbenchAuthProvider

    monkeypatch.setenv("WORKBENCH_LOGIN_DELAY_AFTER", "2")
    monkeypatch.setenv("WORKBENCH_LOGIN_FIRST_DELAY", "30")

    async def attempts() -> list[tuple[str, bool]]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = Application([(r"/login", WorkbenchAuthProvider().login_handler)], cookie_secret="k" * 64).listen(
            port, "127.0.0.1"
        )
        answers = []
        try:
            for secret in ("guess-guess", "guess-guess", PASSWORD):
                response = await AsyncHTTPClient().fetch(
                    f"http://127.0.0.1:{port}/login",
                    method="POST",
                    body=urlencode({"username": "helen", "password": secret}),
                    follow_redirects=False,
                    raise_error=False,
                )
                cookies = response.headers.get_list("Set-Cookie")
                answers.append(
                    (unquote_plus(response.headers["Location"]), any(c.startswith("user=") for c in cookies))
                )
        finally:
            server.stop()
        return answers

    (first, second, third) = asyncio.run(attempts())
    assert "wrong password" in first[0] and "wrong password" in second[0] and not first[1] and not second[1]
    assert "try again in 30 s" in third[0] and not third[1]  # the right password, but throttled: no session
    records = AuditTrail().records()
    assert [r["action"] for r in records[-3:]] == ["login_failed", "login_failed", "login_throttled"]
    assert records[-1]["details"]["channel"] == "app"
