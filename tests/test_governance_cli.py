"""Governance through the ``workbench`` command on a real (small) MLflow registry, as an attacker and a careless
operator would use it: concurrent commands in separate processes, a full disk, writes to MLflow that bypass the
workbench, a developer who is also a deployer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_project, registry_client

PASSWORD = "governance-password"
WORKBENCH = [sys.executable, "-m", "workbench.cli"]
PEOPLE = {
    "priya": ["developer"],
    "marco": ["validator"],
    "helen": ["approver"],
    "sam": ["deployer"],
    "ada": ["admin"],
    "dave": ["developer", "deployer"],
}


def run(project: Path, *args: str, env: dict[str, str] | None = None, code: str | None = None):
    """The command in its own process (``code`` runs first in that process: how a fault is injected)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "WORKBENCH_"))}
    environment |= {"WORKBENCH_HOME": str(project), "WORKBENCH_PASSWORD": PASSWORD, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH")) if p
    )
    if code is None:
        command = [*WORKBENCH, *args]
    else:
        command = [sys.executable, "-c", code + "\nfrom workbench.cli import app\napp(prog_name='workbench')", *args]
    return subprocess.run(command, cwd=project, env=environment, capture_output=True, text=True, timeout=300)


def artefact(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.txt").write_text(text)
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A registry with model ``m``: v1 approved (by three people), v2 developed by dave, v3 in development."""
    from _pytest.monkeypatch import MonkeyPatch

    from workbench.governance import AuditTrail, GovernanceService, MlflowVersionStore, UserStore
    from workbench.registry import model_sha256

    project = tmp_path_factory.mktemp("governed-template")
    (project / "registry_store").mkdir()
    patch = MonkeyPatch()
    patch.setenv("WORKBENCH_HOME", str(project))
    users = UserStore(project / "registry_store" / "governance" / "users.json")
    for name, roles in PEOPLE.items():
        users.add(name, roles, PASSWORD)
    with registry_client(project) as client:
        client.create_registered_model("m")
        service = GovernanceService(
            MlflowVersionStore(client), AuditTrail(project / "registry_store" / "governance" / "audit.jsonl")
        )
        for version, developer in ((1, "priya"), (2, "dave"), (3, "priya")):
            source = artefact(project / "sources" / f"v{version}", f"model {version}")
            client.create_model_version("m", source=str(source), tags={"status": "development"})
            client.set_model_version_tag("m", str(version), "developed_by", developer)
            client.set_model_version_tag("m", str(version), "model_sha256", model_sha256("m", version))
            service.register(users.get(developer), "m", version)
        for version in (1, 2):
            service.record_validation(users.get("marco"), "m", version, "validated", "suite passed", {"high": 0})
            service.approve(users.get("helen"), "m", version, "fit for use")
    patch.undo()
    return project


@pytest.fixture
def project(template, tmp_path):
    return copy_project(template, tmp_path / "project")


def tags(project: Path, version: int) -> dict[str, str]:
    with registry_client(project) as client:
        return dict(client.get_model_version("m", str(version)).tags)


def test_a_fresh_copy_verifies(project):
    result = run(project, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "audit trail intact" in result.stdout and "the registry matches the trail" in result.stdout
