"""The CLI reads as one tool: ``--user`` names the acting person everywhere (older names still work, hidden),
mandatory options are marked required, and long commands report progress on standard error."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from workbench.cli import app

runner = CliRunner()
PASSWORD = "a-long-demo-password"

#: every command in which a person acts, and the older option name it still accepts
ACTING = {
    ("run",): "--developer",
    ("validate",): "--validator",
    ("approve",): None,
    ("reject",): None,
    ("promote",): None,
    ("archive",): None,
    ("finding",): None,
    ("rollout",): None,
    ("monitor",): None,
    ("retrain",): "--developer",
    ("users", "add"): "--as",
    ("users", "remove"): "--as",
    ("users", "roles"): "--as",
    ("users", "unlock"): "--as",
    ("users", "token"): "--as",
    ("audit", "rotate-key"): "--as",
    ("audit", "adopt"): "--as",
}
REQUIRED = {
    ("approve",): ["--comment"],
    ("reject",): ["--comment"],
    ("promote",): ["--reason"],
    ("archive",): ["--reason"],
    ("finding",): ["--title", "--remediation"],
    ("rollout",): ["--reason"],
    ("simulate",): ["--token"],
    ("users", "add"): ["--role"],
}


def _command(path: tuple[str, ...]):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def _help_block(shown: str, option: str) -> str:
    """The lines of ``--help`` that describe one option (its line and the wrapped lines under it)."""
    lines = shown.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"│ [* ]\s+{option}\b", line))
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"│ [* ]\s+--|╰", lines[i]))
    return "\n".join(lines[start:end])


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "registry_store").mkdir()
    for name in ("MLFLOW_TRACKING_URI", "WORKBENCH_USERS", "WORKBENCH_AUDIT", "WORKBENCH_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("path", list(ACTING), ids=" ".join)
def test_the_acting_person_is_user_everywhere_and_older_names_are_hidden_aliases(path):
    options = {name: parameter for parameter in _command(path).params for name in parameter.opts}
    assert "--user" in options and not options["--user"].hidden
    old = ACTING[path]
    if old is not None:
        assert options[old].hidden  # still accepted, no longer shown
    shown = runner.invoke(app, [*path, "--help"], terminal_width=200).output
    assert "--user" in shown and "--as " not in shown and "--developer" not in shown
    if path != ("run",):  # run names a second person, who validates the new version
        assert "--validator" not in shown


@pytest.mark.parametrize("path", list(REQUIRED), ids=" ".join)
def test_mandatory_options_are_marked_required_and_their_absence_is_named(path):
    shown = runner.invoke(app, [*path, "--help"], terminal_width=200).output
    options = {name: parameter for parameter in _command(path).params for name in parameter.opts}
    for option in REQUIRED[path]:
        assert options[option].required
        # the help marks it: a star before the option and "[required]" in its description
        assert _help_block(shown, option).startswith("│ *") and "[required]" in _help_block(shown, option), shown
    arguments = {"simulate": ["m"], "users": ["bob"], "rollout": ["m", "shadow"]}.get(path[0], ["m", "1"])
    missing = runner.invoke(app, [*path, *arguments], env={"WORKBENCH_TOKEN": ""})
    assert missing.exit_code == 2 and f"Missing option '{REQUIRED[path][0]}'" in missing.output


def test_an_older_option_name_still_acts_and_two_different_people_are_refused(project):
    demo = runner.invoke(app, ["users", "demo", "--password", PASSWORD])
    assert demo.exit_code == 0, demo.output
    env = {"WORKBENCH_PASSWORD": PASSWORD, "WORKBENCH_NEW_PASSWORD": "bobs-own-password"}
    old = runner.invoke(app, ["users", "add", "bob", "--role", "developer", "--as", "ada"], env=env)
    assert old.exit_code == 0 and "added bob (developer)" in old.output, old.output
    new = runner.invoke(app, ["users", "roles", "bob", "--role", "validator", "--user", "ada"], env=env)
    assert new.exit_code == 0 and "bob now holds validator" in new.output, new.output
    both = runner.invoke(app, ["users", "remove", "bob", "--user", "ada", "--as", "helen"], env=env)
    assert both.exit_code == 2
    assert "--user ada and --as helen name different people" in both.output
    from workbench.governance import UserStore

    assert "bob" in {u.name for u in UserStore().list()}  # nothing was done


def test_a_long_command_reports_progress_on_standard_error_only(project):
    from workbench.registry import configure

    client = configure()
    client.create_registered_model("m")
    client.create_model_version("m", source=str(project), run_id=None)
    result = CliRunner().invoke(app, ["document", "m", "1"])
    assert result.exit_code == 2
    assert re.search(r"^\[\s*\d+\.\ds\] building the documents of m version 1", result.stderr, re.M), result.stderr
    assert "building the documents" not in result.stdout
    assert "cannot document m version 1" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["run", "no_such_spec.yaml", "--developer", "priya"],
        ["validate", "no_such_model", "1", "--validator", "marco"],
        ["retrain", "f" * 32, "--developer", "priya"],
    ],
    ids=lambda command: command[0],
)
def test_the_older_names_are_still_parsed(project, command):
    result = runner.invoke(app, command)
    assert result.exit_code == 2 and "No such option" not in result.output, result.output
    assert "no users are configured" in result.output or "no registered model" in result.output, result.output


def test_a_missing_user_names_whom_the_command_tried(project, monkeypatch):
    assert runner.invoke(app, ["users", "demo", "--password", PASSWORD]).exit_code == 0
    monkeypatch.setenv("WORKBENCH_USER", "nobody-here")
    result = runner.invoke(
        app, ["finding", "m", "1", "--title", "t", "--remediation", "r"], env={"WORKBENCH_PASSWORD": PASSWORD}
    )
    assert result.exit_code == 2
    assert "no --user given, and WORKBENCH_USER 'nobody-here' is not a registered user" in result.output, result.output


def test_inventory_and_audit_log_are_aligned_tables_with_overrides_and_conditions(project):
    from workbench.governance import AuditTrail
    from workbench.registry import configure

    assert runner.invoke(app, ["users", "demo", "--password", PASSWORD]).exit_code == 0
    client = configure()
    for name in ("german_credit", "card_fraud"):
        client.create_registered_model(name)
        client.create_model_version(name, source=str(project), run_id=None, tags={"model_kind": name.split("_")[1]})
    AuditTrail().append(
        actor="helen",
        role="approver",
        action="approve",
        target="german_credit/1",
        reason="fit for purpose",
        before="validated",
        after="approved",
        outcome="accepted",
        details={"conditions": "monthly fairness monitoring", "override_justification": "gap accepted, plan R-17"},
    )
    inventory = runner.invoke(app, ["inventory"]).output.splitlines()
    header = inventory[0].split()
    assert header[:4] == ["model", "version", "kind", "status"], inventory
    # every row starts each column where the header does
    kind_at = inventory[0].index("kind")
    assert {line[kind_at:].split()[0] for line in inventory[1:]} == {"credit", "fraud"}, inventory
    log = runner.invoke(app, ["audit", "log"]).output.splitlines()
    assert log[0].split()[:3] == ["seq", "time", "actor"]
    approval = next(line for line in log if " approve " in line)
    assert approval.index("helen (approver)") == log[0].index("actor")
    assert "conditions: monthly fairness monitoring; OVERRIDE: gap accepted, plan R-17" in approval
