from __future__ import annotations

import copy
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GERMAN_SPEC = ROOT / "notebooks" / "params" / "german_credit.yaml"


@pytest.fixture(scope="session")
def german_spec_dict() -> dict:
    return yaml.safe_load(GERMAN_SPEC.read_text())


@pytest.fixture
def spec_dict(german_spec_dict) -> dict:
    """A fresh, mutable copy of the shipped German credit spec."""
    return copy.deepcopy(german_spec_dict)


@pytest.fixture(scope="session")
def german_spec():
    from workbench.spec import load_spec

    return load_spec(GERMAN_SPEC)


@pytest.fixture(scope="session")
def german_data(german_spec):
    from workbench.data import load_model_data

    return load_model_data(german_spec)


def write_german_csv(path: Path) -> Path:
    """The decoded German data as a CSV, as a bank's own extract would arrive."""
    from workbench.datasets import load_german_credit

    load_german_credit().to_csv(path, index=False)
    return path


def csv_spec(spec: dict, csv_path: Path) -> dict:
    """The German spec pointed at a CSV file instead of the shipped data set."""
    spec = copy.deepcopy(spec)
    spec["name"] = "german_credit_csv"
    spec["dataset"] = {"path": str(csv_path)}
    return spec


@pytest.fixture(scope="session")
def german_training(german_data, german_spec):
    from workbench.training import train

    return train(german_data, german_spec)


@pytest.fixture(scope="session")
def german_context(german_training, german_data, german_spec):
    """A validation context on the trained German model, without a registry (fast unit tests)."""
    from workbench.validation import ValidationContext

    return ValidationContext(
        spec=german_spec,
        model=german_training.model,
        data=german_data,
        split=german_training.split,
        name="german_credit",
        version=1,
        tags={"model_family": german_training.chosen},
    )


@pytest.fixture(scope="session")
def german_validation(german_context):
    from workbench.validation import run_validation

    return run_validation(german_context)


SERVING_PASSWORD = "serving-password"


def governed_version(project: Path, client, spec, result, *, promote: str | None) -> int:
    """Register a trained result and take it through validation and approval (and promotion) by the rules."""
    from workbench.governance import GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail
    from workbench.registry import register_training, start_pipeline_run

    users = UserStore(project / "registry_store" / "governance" / "users.json")
    service = GovernanceService(
        MlflowVersionStore(client), AuditTrail(project / "registry_store" / "governance" / "audit.jsonl")
    )
    run_id = start_pipeline_run(spec, developer="priya", client=client)
    version = register_training(result, run_id, developer="priya", client=client)
    service.register(users.get("priya"), spec.name, version)
    service.record_validation(
        users.get("marco"), spec.name, version, "validated", "validation suite passed", {"high": 0}
    )
    service.approve(users.get("helen"), spec.name, version, "approved for production")
    if promote:
        service.promote(users.get("sam"), spec.name, version, promote, f"deploy as {promote}")
    return version


@pytest.fixture(scope="session")
def served_project(tmp_path_factory, german_training, german_spec, german_data):
    """A project whose registry holds an approved GBM @champion and an approved scorecard @challenger.

    Returns (project, champion version, challenger version, tokens by user name). Users: the demo people
    plus ``los`` (a scoring client) and ``branch`` (a second client); tokens for los, branch, ada (admin) and
    helen (approver, not a client).
    """
    from _pytest.monkeypatch import MonkeyPatch

    from workbench.governance import DEMO_USERS, UserStore
    from workbench.registry import configure
    from workbench.spec import parse_spec
    from workbench.training import train

    project = tmp_path_factory.mktemp("serving")
    (project / "registry_store").mkdir()
    patch = MonkeyPatch()
    patch.setenv("WORKBENCH_HOME", str(project))
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    users = UserStore(project / "registry_store" / "governance" / "users.json")
    for name, roles in {**DEMO_USERS, "los": ["client"], "branch": ["client"]}.items():
        users.add(name, roles, SERVING_PASSWORD)
    tokens = {name: users.issue_token(name, "tests") for name in ("los", "branch", "ada", "helen")}
    client = configure(f"sqlite:///{project / 'registry_store' / 'mlflow.db'}")
    champion = governed_version(project, client, german_spec, german_training, promote="champion")
    scorecard_dict = german_spec.model_dump(mode="json")
    scorecard_dict["candidates"] = [c for c in scorecard_dict["candidates"] if c["family"] == "scorecard_logit"]
    scorecard_spec = parse_spec(scorecard_dict)
    challenger = governed_version(
        project, client, scorecard_spec, train(german_data, scorecard_spec), promote="challenger"
    )
    patch.undo()
    return project, champion, challenger, tokens


@pytest.fixture(scope="session")
def applications_for_load(german_data, german_spec):
    """Real German applications as JSON-ready dicts (whole numbers as ints)."""
    from workbench.training import model_inputs

    rows = model_inputs(german_data.frame, german_spec).to_dict("records")
    return [{k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in r.items()} for r in rows]


@contextmanager
def in_process_server(project: Path, *, recheck_seconds: float = 1.0):
    """The project's scoring server in this process (registry followed by hand), with WORKBENCH_HOME set.

    Yields (server, app, MLflow client, decision log).
    """
    from workbench.governance import AuditTrail, UserStore
    from workbench.registry import configure
    from workbench.serving import DecisionLog, ModelServer, TokenIndex, create_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_HOME", str(project))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        client = configure(f"sqlite:///{project / 'registry_store' / 'mlflow.db'}")
        governance = project / "registry_store" / "governance"
        decisions = DecisionLog()
        server = ModelServer(
            "german_credit", client, decisions, AuditTrail(governance / "audit.jsonl"), refresh_seconds=0
        )
        server.start()
        tokens = TokenIndex(UserStore(governance / "users.json"), recheck_seconds=recheck_seconds)
        yield server, create_app(server, tokens, start=False), client, decisions


#: the decision log's flushing program with a disk that waits for a gate file, notes each flushed inode and may
#: fail (``workbench/serving/_wal.py`` run with ``os.fdatasync`` replaced inside its process)
FLUSH_DISK = """
import os, runpy, sys, time
gate, notes, mode, program = sys.argv[1:5]
real, flushes = os.fdatasync, []

def fdatasync(fd):
    while not os.path.exists(gate):
        time.sleep(0.001)
    with open(notes, "a") as out:
        out.write(f"{os.fstat(fd).st_ino}\\n")
    flushes.append(fd)
    if mode == "broken" or (mode == "breaks" and len(flushes) > 1):
        raise OSError(5, "Input/output error")
    real(fd)

os.fdatasync = fdatasync
sys.argv = sys.argv[4:]
runpy.run_path(program, run_name="__main__")
"""


class FlushDisk(NamedTuple):
    gate: Path  # the disk answers once this file exists
    notes: Path  # one line per flush: the inode flushed


@pytest.fixture
def flush_disk(monkeypatch, tmp_path):
    """``use(mode)``: flushing processes started from now on run on another disk.

    ``held``: each flush waits for the gate file; ``broken``: every flush fails; ``breaks``: all after the first.
    """
    from workbench.serving import _wal

    def use(mode: str) -> FlushDisk:
        disk = FlushDisk(tmp_path / f"{mode}-gate", tmp_path / f"{mode}-flushed")
        program = _wal.WalFlusher.command[-1]
        command = (sys.executable, "-c", FLUSH_DISK, str(disk.gate), str(disk.notes), mode, program)
        monkeypatch.setattr(_wal.WalFlusher, "command", command)
        return disk

    return use


def _flushing_processes(folder: Path) -> list[int]:
    """Live flushing processes of the shards in ``folder`` (zombies, already ended, are not counted)."""
    found, shards = [], str(folder / "shard-").encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if any(argument.startswith(shards) for argument in command[1:]) and state != "Z":
            found.append(int(pid))
    return found


@pytest.fixture
def flushing_processes():
    """``find(folder)``: pids of the live flushing processes of the decision shards in ``folder``."""
    return _flushing_processes
