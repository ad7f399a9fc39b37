"""Governance through the ``workbench`` command on a real (small) MLflow registry, as an attacker and a careless
operator would use it: concurrent commands in separate processes, a full disk, writes to MLflow that bypass the
workbench, a developer who is also a deployer."""

from __future__ import annotations

import json
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


def _forked_command(project: Path, args: list[str], start, code: str | None = None) -> tuple[int, str, str]:
    """One command in a forked child, through the console entry point (the parent has imported the workbench:
    no start-up cost per process). ``code`` runs first in the child: how a fault is injected."""
    import contextlib
    import io

    os.environ.update(WORKBENCH_HOME=str(project), WORKBENCH_PASSWORD=PASSWORD)
    for name in [n for n in os.environ if n.startswith("MLFLOW_")]:
        del os.environ[name]
    os.chdir(project)
    if code:
        exec(code, {})
    from workbench.cli import main

    sys.argv = ["workbench", *args]
    out, err = io.StringIO(), io.StringIO()
    start.wait()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
            status = 0
        except SystemExit as stop:
            status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except Exception:  # an unexpected error is a failure of the test, with its traceback
            import traceback

            traceback.print_exc()
            status = 1
    return status, out.getvalue(), err.getvalue()


def run_at_once(project: Path, commands: list[list[str]], code: str | None = None) -> list[tuple[int, str, str]]:
    """Several commands, each in its own forked process, released together. The parent must hold no open
    connection to the project's database (SQLite connections do not survive a fork)."""
    import multiprocessing

    import workbench.cli  # noqa: F401  imported once, before the fork

    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        start = manager.Barrier(len(commands))
        with context.Pool(len(commands), maxtasksperchild=1) as pool:
            return pool.starmap(_forked_command, [(project, args, start, code) for args in commands])


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


def _records(project: Path) -> list[dict]:
    path = project / "registry_store" / "governance" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_twenty_concurrent_findings_are_counted_exactly(project):
    """Twenty `workbench finding` processes at once: twenty records and a count of twenty, none lost."""
    before = len(_records(project))

    results = run_at_once(
        project,
        [
            [
                "finding",
                "m",
                "3",
                "--severity",
                "low",
                "--title",
                f"note {i}",
                "--remediation",
                "fix",
                "--user",
                "marco",
            ]
            for i in range(20)
        ],
    )
    assert [code for code, _, _ in results] == [0] * 20, [err for code, _, err in results if code]
    added = _records(project)[before:]
    assert sorted(r["details"]["finding"]["title"] for r in added) == sorted(f"note {i}" for i in range(20))
    assert [r["seq"] for r in added] == list(range(before + 1, before + 21))
    assert tags(project, 3)["open_findings_low"] == "20"
    assert sorted(int(r["details"]["apply"]["tags"]["open_findings_low"]) for r in added) == list(range(1, 21))
    assert run(project, "audit", "verify").returncode == 0


def test_concurrent_promotions_from_approved_only_one_wins(project):
    """`promote --to champion` and `--to challenger` at the same moment: exactly one acts on the approved
    version; the other sees what the first did (a champion cannot become challenger; a challenger may be promoted)."""
    results = run_at_once(
        project,
        [["promote", "m", "1", "--to", to, "--user", "sam", "--reason", "go"] for to in ("champion", "challenger")],
    )
    promotions = [r for r in _records(project) if r["action"].startswith("promote_")]
    from_approved = [r for r in promotions if r["outcome"] == "accepted" and r["before"] == "approved"]
    assert len(from_approved) == 1
    second = next(r for r in promotions if r is not from_approved[0])
    assert second["seq"] == from_approved[0]["seq"] + 1 and second["before"] == from_approved[0]["after"]
    assert sum(code == 0 for code, _, _ in results) == (1 if second["outcome"] == "refused" else 2)
    assert run(project, "audit", "verify").returncode == 0


FULL_TRAIL_VOLUME = """
import errno, os
_write = os.write
def full(fd, data):
    if os.readlink(f"/proc/self/fd/{fd}").endswith("audit.jsonl"):
        _write(fd, data[:25])  # part of the record reaches the disk, then it is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _write(fd, data)
os.write = full
"""

FULL_REGISTRY_VOLUME = """
import errno
from workbench.governance import MlflowVersionStore
def full(self, *args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")
MlflowVersionStore.set_tags = full
"""


def test_a_full_trail_volume_changes_nothing(project):
    trail = project / "registry_store" / "governance" / "audit.jsonl"
    before, registry = trail.read_bytes(), tags(project, 2)
    result = run(project, "archive", "m", "2", "--user", "sam", "--reason", "retire", code=FULL_TRAIL_VOLUME)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "audit.jsonl: the audit record could not be written (No space left on device)" in result.stderr
    assert trail.read_bytes() == before and tags(project, 2) == registry
    assert run(project, "audit", "verify").returncode == 0


def test_a_full_registry_volume_after_the_record_is_repaired_by_the_next_command(project):
    result = run(
        project,
        "finding",
        "m",
        "1",
        "--severity",
        "high",
        "--title",
        "t",
        "--remediation",
        "r",
        "--user",
        "marco",
        code=FULL_REGISTRY_VOLUME,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is recorded (audit record" in result.stderr and "the next governance command applies it" in result.stderr
    assert "open_findings_high" not in tags(project, 1) or tags(project, 1)["open_findings_high"] == "0"
    seq = _records(project)[-1]["seq"]
    again = run(
        project, "finding", "m", "1", "--severity", "high", "--title", "t2", "--remediation", "r", "--user", "marco"
    )
    assert again.returncode == 0, again.stderr
    assert f"repaired: applied audit record {seq} (add_finding m/1)" in again.stdout
    assert tags(project, 1)["open_findings_high"] == "2" and tags(project, 1)["status"] == "approved"
    verified = run(project, "audit", "verify")
    assert verified.returncode == 0 and "repaired" not in verified.stdout


def test_a_tag_and_artefact_rewritten_in_mlflow_are_refused_and_named(project):
    """The attack found: a plain MlflowClient rewrites approved_model_sha256 and the artefact; serve refuses."""
    from workbench.provenance import directory_sha256
    from workbench.serving import DeploymentError, load_deployment

    source = project / "sources" / "v1"
    (source / "model.txt").write_text("a different model")
    with registry_client(project) as client:
        client.set_model_version_tag("m", "1", "approved_model_sha256", directory_sha256(source))
    promoted = run(project, "promote", "m", "1", "--to", "champion", "--user", "sam", "--reason", "go")
    assert promoted.returncode == 2 and "is not the approved" in promoted.stderr
    verified = run(project, "audit", "verify")
    assert verified.returncode == 1
    assert (
        "m/1: tag 'approved_model_sha256' is" in verified.stderr and "changed outside the workbench" in verified.stderr
    )
    assert "m/1: the artefact's sha256" in verified.stderr
    with pytest.MonkeyPatch.context() as patch, registry_client(project) as client:
        patch.setenv("WORKBENCH_HOME", str(project))
        with pytest.raises(DeploymentError, match="tag 'approved_model_sha256' is"):
            load_deployment(client, "m", 1)
        client.set_model_version_tag("m", "1", "approved_model_sha256", tags(project, 1)["model_sha256"])
        with pytest.raises(DeploymentError, match=r"differs from the approved .*\(nothing was deserialised\)"):
            load_deployment(client, "m", 1)


def test_a_rewritten_approval_tag_alone_is_refused_by_promote(project):
    with registry_client(project) as client:
        client.set_model_version_tag("m", "1", "approved_by", "sam")
    promoted = run(project, "promote", "m", "1", "--to", "champion", "--user", "sam", "--reason", "go")
    assert promoted.returncode == 2
    assert "m/1: tag 'approved_by' is 'sam' in the registry but 'helen' in the audit trail" in promoted.stderr
    assert tags(project, 1)["status"] == "approved"


def test_status_and_alias_set_in_the_mlflow_ui_decide_nothing(project):
    with registry_client(project) as client:
        client.set_model_version_tag("m", "3", "status", "approved")
        client.set_registered_model_alias("m", "champion", "3")
    promoted = run(project, "promote", "m", "3", "--to", "champion", "--user", "sam", "--reason", "go")
    assert promoted.returncode == 2 and "m/3 is development" in promoted.stderr
    verified = run(project, "audit", "verify")
    assert "m/3: tag 'status' is 'approved' in the registry but 'development'" in verified.stderr
    assert "alias @champion points at version 3 in the registry but at None in the audit trail" in verified.stderr


def test_a_developer_who_is_also_deployer_cannot_deploy_their_own_model(project):
    result = run(project, "promote", "m", "2", "--to", "champion", "--user", "dave", "--reason", "my model")
    assert result.returncode == 2 and "dave developed m/2 and cannot deploy it" in result.stderr
    assert "status" in tags(project, 2) and tags(project, 2)["status"] == "approved"
    assert _records(project)[-1]["outcome"] == "refused"
    assert run(project, "promote", "m", "2", "--to", "champion", "--user", "sam", "--reason", "go").returncode == 0


# --- bad local state: one message naming the file, exit 2, nothing changed ------------------------------------


def _fingerprint(project: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(project)): p.read_bytes()
        for p in sorted(project.rglob("*"))
        if p.is_file() and not p.name.endswith(("-shm", "-wal", ".lock"))
    }


def corrupt_database(project: Path) -> Path:
    database = project / "registry_store" / "mlflow.db"
    data = bytearray(database.read_bytes())
    data[:100] = b"\x00" * 100  # the header: not a database any more
    database.write_bytes(bytes(data))
    return database


def empty_database(project: Path) -> Path:
    database = project / "registry_store" / "mlflow.db"
    database.write_bytes(b"")
    return database


def delete_database(project: Path) -> Path:
    database = project / "registry_store" / "mlflow.db"
    database.unlink()
    return database


def delete_trail(project: Path) -> Path:
    trail = project / "registry_store" / "governance" / "audit.jsonl"
    trail.unlink()
    return trail


def corrupt_trail(project: Path) -> Path:
    trail = project / "registry_store" / "governance" / "audit.jsonl"
    trail.write_text(trail.read_text().replace('"actor": "helen"', '"actor": "mallory"'))
    return trail


@pytest.mark.parametrize(
    "damage, message",
    [
        (corrupt_database, "the registry database cannot be read"),
        (empty_database, "the registry database is missing or empty while the audit trail"),
        (delete_database, "the registry database is missing or empty while the audit trail"),
        (delete_trail, "records were cut off the end"),
        (corrupt_trail, "does not verify"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_damaged_registry_or_trail_fails_cleanly_and_changes_nothing(project, damage, message):
    path = damage(project)
    before = _fingerprint(project)
    for command in (["archive", "m", "3", "--user", "sam", "--reason", "retire"], ["inventory"]):
        if command == ["inventory"] and path.suffix == ".jsonl":
            continue  # the inventory reads the registry only
        status, out, err = run_at_once(project, [command])[0]
        assert status == 2, (command, out, err)
        assert str(path) in err and message in err and "Traceback" not in err
    assert _fingerprint(project) == before


def test_a_deleted_artefact_is_refused_by_name(project):
    import shutil

    shutil.rmtree(project / "sources" / "v1")
    result = run(project, "promote", "m", "1", "--to", "champion", "--user", "sam", "--reason", "go")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "m/1: its artefact cannot be read from the registry" in result.stderr
    assert tags(project, 1)["status"] == "approved"


# --- interleaved transitions from several processes ------------------------------------------------------------


def _snapshot(project: Path) -> dict:
    """In a child process: how the registry differs from the trail, and whether the trail verifies."""
    from workbench.governance import AuditTrail, MlflowVersionStore, reconcile
    from workbench.registry import configure

    os.environ["WORKBENCH_HOME"] = str(project)
    store = MlflowVersionStore(configure(f"sqlite:///{project / 'registry_store' / 'mlflow.db'}"))
    trail = AuditTrail(project / "registry_store" / "governance" / "audit.jsonl")
    return {
        "differences": reconcile(store, trail),
        "problems": [p.message for p in trail.verify(store.anchors())],
        "anchor": store.anchor("m"),
        "records": trail.records(),
    }


def snapshot(project: Path) -> dict:
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(_snapshot, (project,))


ACTIONS = {
    "finding": ["finding", "m", "{v}", "--severity", "high", "--title", "t", "--remediation", "r", "--user", "marco"],
    "champion": ["promote", "m", "{v}", "--to", "champion", "--user", "sam", "--reason", "go"],
    "challenger": ["promote", "m", "{v}", "--to", "challenger", "--user", "sam", "--reason", "try"],
    "archive": ["archive", "m", "{v}", "--user", "sam", "--reason", "retire"],
    "low_finding": [
        "finding",
        "m",
        "{v}",
        "--severity",
        "low",
        "--title",
        "t",
        "--remediation",
        "r",
        "--user",
        "marco",
    ],
    "approve": ["approve", "m", "{v}", "--user", "helen", "--comment", "fit"],
}


def test_interleaved_transitions_keep_every_registry_state_recorded_in_order(template, tmp_path_factory):
    """Batches of concurrent commands, each in its own process: after every batch the registry shows exactly
    what the trail decides, the trail verifies against its anchors, and every accepted record started from the
    state the record before it (on the same version) left: no decision was made on a stale state."""
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

    from workbench.governance import model_state

    batches = st.lists(st.tuples(st.sampled_from(sorted(ACTIONS)), st.sampled_from([1, 2, 3])), min_size=2, max_size=3)

    class Interleaved(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.project = copy_project(template, tmp_path_factory.mktemp("interleaved") / "project")

        @rule(batch=batches)
        def act_at_once(self, batch) -> None:
            commands = [[part.format(v=version) for part in ACTIONS[action]] for action, version in batch]
            for status, _, err in run_at_once(self.project, commands):
                assert status in (0, 2) and "Traceback" not in err, err

        @invariant()
        def registry_mirrors_the_trail_in_order(self) -> None:
            seen = snapshot(self.project)
            assert seen["differences"] == [] and seen["problems"] == []
            records = seen["records"]
            assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
            model = [r for r in records if r["target"].startswith("m/")]
            assert seen["anchor"] == (model[-1]["seq"], model[-1]["hash"])
            status: dict[str, str] = {}
            for record in model:
                if record["outcome"] == "accepted" and record["action"] != "register":
                    assert record["before"] == status.get(record["target"], "development"), record
                if record["outcome"] == "accepted":
                    status[record["target"]] = record["after"]
            state = model_state(records, "m")
            assert {f"m/{v}": t["status"] for v, t in state.tags.items()} == status

    run_state_machine_as_test(
        Interleaved,
        settings=settings(
            max_examples=3, stateful_step_count=3, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
