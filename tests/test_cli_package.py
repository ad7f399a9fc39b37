"""The ``workbench`` command as a package: each area's commands importable alone, joined into one app."""

import ast
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from workbench.cli import _batch, _features, _governance, _monitoring, _pipeline, _serving, app
from workbench.cli._common import fail
from workbench.cli._governance import users_list
from workbench.cli._serving import serve

CLI_DIR = Path(__file__).resolve().parent.parent / "workbench" / "cli"
AREAS = {
    _pipeline: ["run", "validate", "document", "reproduce", "lab", "app"],
    _governance: ["approve", "reject", "promote", "archive", "finding", "inventory"],
    _serving: ["serve", "replay", "rollout"],
    _monitoring: ["monitor", "retrain", "review", "simulate"],
}
GROUPS = {
    "users": ["add", "list", "remove", "roles", "unlock", "token", "demo"],
    "audit": ["verify", "log", "rotate-key", "migrate-db", "adopt"],
    "outcomes": ["import"],
    "features": ["apply", "materialize", "skew"],
    "batch": ["score"],
}
#: modules that hold a command group of their own rather than top-level commands
GROUP_MODULES = (_features, _batch)

runner = CliRunner()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project; commands find it through WORKBENCH_HOME."""
    (tmp_path / "registry_store").mkdir()
    for name in ("MLFLOW_TRACKING_URI", "WORKBENCH_USERS", "WORKBENCH_AUDIT", "WORKBENCH_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    return tmp_path


def test_the_app_holds_every_area_command_in_order_then_the_groups():
    group = typer.main.get_command(app)
    expected = [name for names in AREAS.values() for name in names] + list(GROUPS)
    assert list(group.commands) == expected
    for name, subcommands in GROUPS.items():
        assert list(group.commands[name].commands) == subcommands


@pytest.mark.parametrize("area", list(AREAS), ids=lambda module: module.__name__.rsplit(".", 1)[-1])
def test_each_area_help_lists_its_commands(area):
    result = runner.invoke(area.app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in AREAS[area]:
        assert f" {name} " in result.output


def test_root_help_lists_the_groups():
    result = runner.invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "MRM Workbench: reproducible, validated, governed models." in result.output
    for name in GROUPS:
        assert f" {name} " in result.output


def test_fail_prints_the_message_and_exits_2(capsys):
    with pytest.raises(typer.Exit) as stop:
        fail("something is wrong")
    assert stop.value.exit_code == 2
    assert "something is wrong" in capsys.readouterr().err


def test_a_command_can_be_called_alone(project, capsys):
    users_list()
    assert f"0 user(s) in {project / 'registry_store' / 'governance' / 'users.json'}" in capsys.readouterr().out
    with pytest.raises(typer.Exit) as stop:
        serve(decision_store="mysql://db/decisions")
    assert stop.value.exit_code == 2
    assert "--decision-store: decision store 'mysql://db/decisions': not a URL" in capsys.readouterr().err


def test_users_demo_then_list_in_a_temporary_project(project):
    result = runner.invoke(app, ["users", "demo", "--password", "a-long-demo-password"])
    assert result.exit_code == 0, result.output
    assert "added demonstration user helen (approver)" in result.output
    result = runner.invoke(app, ["users", "list"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"6 user(s) in {project}")
    assert "helen" in result.output and "approver" in result.output


def test_an_action_without_users_says_how_to_add_them(project):
    result = runner.invoke(app, ["approve", "german_credit", "1", "--user", "helen", "--comment", "ok"])
    assert result.exit_code == 2
    assert "no users are configured" in result.output


def test_an_unknown_model_exits_2_naming_it(project):
    result = runner.invoke(app, ["monitor", "no_such_model", "--simulated"])
    assert result.exit_code == 2
    assert "--simulated:" in result.output and "no_such_model" in result.output


def test_an_unknown_model_is_answered_before_any_work_with_the_nearest_name(project):
    from mlflow import MlflowClient

    from workbench.registry import configure

    client: MlflowClient = configure()
    client.create_registered_model("german_credit")
    typo = runner.invoke(app, ["validate", "german_credi", "1", "--validator", "marco"])
    assert typo.exit_code == 2, typo.output
    assert "no registered model named 'german_credi' (did you mean 'german_credit'?)" in typo.output
    other = runner.invoke(app, ["document", "fraud_model", "1"])
    assert other.exit_code == 2 and "registered: german_credit" in other.output
    empty = runner.invoke(app, ["document", "german_credit", "1"])
    assert empty.exit_code == 2 and "model 'german_credit' has no registered version yet" in empty.output


def test_lab_passes_further_arguments_to_jupyterlab(project, monkeypatch):
    import subprocess

    started = []
    monkeypatch.setattr(subprocess, "call", lambda command, env: started.append((command, env)) or 0)
    result = runner.invoke(app, ["lab", "--port", "9999", "--ServerApp.ip=0.0.0.0", "--LabApp.default_url=/lab/tree"])
    assert result.exit_code == 0, result.output
    ((command, env),) = started
    assert command[-3:] == ["--no-browser", "--ServerApp.ip=0.0.0.0", "--LabApp.default_url=/lab/tree"]
    assert "--port=9999" in command and env["WORKBENCH_HOME"] == str(project)


def test_the_version_is_printed():
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"workbench {version('mrm-workbench')}"


def test_a_bad_option_exits_2_naming_it():
    result = runner.invoke(app, ["approve", "german_credit", "1", "--no-such-option"])
    assert result.exit_code == 2
    assert "--no-such-option" in result.output
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2
    assert "no-such-command" in result.output


def _cli_imports(path: Path) -> set[str]:
    """The ``workbench.cli`` modules a file imports, anywhere in it (``from workbench.cli import _x`` -> ``_x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("workbench.cli")}
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add(f"relative import in {path.name}")
        elif isinstance(node, ast.ImportFrom) and node.module == "workbench.cli":
            found |= {f"workbench.cli.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workbench.cli."):
            found.add(node.module)
    return {name.removeprefix("workbench.cli.") for name in found}


def test_area_modules_import_only_the_common_helpers():
    modules = {path.stem: path for path in CLI_DIR.glob("*.py")}
    areas = {name for name in modules if name not in {"__init__", "__main__", "_common"}}
    assert areas == {module.__name__.rsplit(".", 1)[-1] for module in (*AREAS, *GROUP_MODULES)}
    assert _cli_imports(modules["_common"]) == set()
    assert _cli_imports(modules["__main__"]) == {"main"}
    for name in areas:
        assert _cli_imports(modules[name]) <= {"_common"}, f"{name} imports another part of the CLI"
