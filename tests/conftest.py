from __future__ import annotations

import asyncio
import copy
import hashlib
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GERMAN_SPEC = ROOT / "notebooks" / "params" / "german_credit.yaml"


# --- waiting on a condition, never for a fixed time --------------------------------------------------------------


def poll(predicate: Callable[[], object], *, timeout: float, interval: float = 0.01):
    """Call ``predicate`` until it returns something true or ``timeout`` seconds have passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str, interval: float = 0.01):
    """Poll ``predicate`` until it returns something true (returned), failing after ``timeout`` seconds.

    ``what`` names the condition waited for, for the failure message: "waited 10 s for <what>".
    """
    value = poll(predicate, timeout=timeout, interval=interval)
    if not value:
        pytest.fail(f"waited {timeout:g} s for {what}")
    return value


async def wait_until_async(predicate: Callable[[], object], *, timeout: float, what: str, interval: float = 0.005):
    """:func:`wait_until` on a running event loop: the loop keeps turning while the condition is polled."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what}")
        await asyncio.sleep(interval)


# --- copies of a prepared project --------------------------------------------------------------------------------


def copy_project(template: Path, destination: Path) -> Path:
    """A copy of the project ``template`` at ``destination`` that reads and writes only its own files.

    MLflow's SQLite store records absolute artefact locations (experiments, runs, model versions, logged models)
    and the workbench records absolute paths in tags (a retraining's data, for one): every text value in every
    table of ``registry_store/mlflow.db`` that names a path inside the template is rewritten to the same path
    inside the copy. No other file may name the template (checked), but for records of what happened, kept
    byte for byte as evidence and never read as a location: a model's ``MLmodel`` (its ``artifact_path`` says
    where it was logged; it is part of the artefact whose hash was approved, and the copy loads its models from
    the rewritten ``model_versions.storage_location``) and executed notebooks with their exports (the
    parameters they ran with).
    """
    template, destination = Path(template), Path(destination)
    # the SQLite shared-memory index is rebuilt from the write-ahead log by the first connection of the copy
    shutil.copytree(template, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*-shm"))
    database = destination / "registry_store" / "mlflow.db"
    if database.exists():
        _rebase_paths(database, str(template), str(destination))
    left = [
        path
        for path in destination.rglob("*")
        if path.is_file() and not _is_record(path) and _mentions(path, str(template))
    ]
    assert not left, f"files of the copy still name the template {template}: {left}"
    return destination


def _is_record(path: Path) -> bool:
    """A record of what happened where it happened: a logged model's description, an executed notebook, its export."""
    return path.name == "MLmodel" or path.suffix in (".ipynb", ".html", ".pdf")


def _path_pattern(old: str) -> re.Pattern:
    """``old`` as a whole path or as the start of one (not the start of a longer name: serving1 vs serving10)."""
    return re.compile(re.escape(old) + r"(?=/|$|[^\w.-])")


def _rebase_paths(database: Path, old: str, new: str) -> None:
    """In every text column of every table, paths under ``old`` become the same paths under ``new``."""
    pattern = _path_pattern(old)
    with sqlite3.connect(database) as connection:
        connection.create_function("rebased", 1, lambda value: pattern.sub(new, value), deterministic=True)
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]:
                connection.execute(
                    f'UPDATE "{table}" SET "{column}" = rebased("{column}") '
                    f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?) > 0',
                    (old,),
                )
    connection.close()


def _mentions(path: Path, text: str) -> bool:
    """The file's bytes name ``text`` as a path (a SQLite file's free pages may still hold old text: dumped)."""
    pattern = _path_pattern(text)
    if path.suffix == ".db":
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            found = any(pattern.search(line) for line in connection.iterdump())
        connection.close()
        return found
    return pattern.search(path.read_bytes().decode("utf-8", "replace")) is not None


def _fingerprint(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by relative path (SQLite shared-memory files left out)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith("-shm")
    }


@contextmanager
def registry_client(project: Path):
    """An MLflow client of the project's registry, MLflow's process-wide URIs pointed at it until the block ends
    (the package's fluent MLflow calls use them), then put back as they were, environment variables included."""
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    from workbench.registry import configure

    uris = tracking._tracking_uri, registry._registry_uri  # None: not set
    variables = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    try:
        yield configure(f"sqlite:///{project / 'registry_store' / 'mlflow.db'}")
    finally:
        import mlflow

        mlflow.set_tracking_uri(uris[0])
        mlflow.set_registry_uri(uris[1])
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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


class ServedProject(NamedTuple):
    project: Path
    champion: int  # version
    challenger: int  # version
    tokens: dict[str, str]  # by user name


@pytest.fixture(scope="session")
def served_template(tmp_path_factory, german_training, german_spec, german_data):
    """The template of every served project, built once: never used directly, only copied (``copy_project``).

    A project whose registry holds an approved GBM @champion and an approved scorecard @challenger.
    Returns (project, champion version, challenger version, tokens by user name). Users: the demo people
    plus ``los`` (a scoring client) and ``branch`` (a second client); tokens for los, branch, ada (admin) and
    helen (approver, not a client). At the end of the session it must be exactly as built.
    """
    from _pytest.monkeypatch import MonkeyPatch

    from workbench.governance import DEMO_USERS, UserStore
    from workbench.spec import parse_spec
    from workbench.training import train

    project = tmp_path_factory.mktemp("served-template")
    (project / "registry_store").mkdir()
    patch = MonkeyPatch()
    patch.setenv("WORKBENCH_HOME", str(project))
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    users = UserStore(project / "registry_store" / "governance" / "users.json")
    for name, roles in {**DEMO_USERS, "los": ["client"], "branch": ["client"]}.items():
        users.add(name, roles, SERVING_PASSWORD)
    tokens = {name: users.issue_token(name, "tests") for name in ("los", "branch", "ada", "helen")}
    with registry_client(project) as client:  # nothing after it writes to the template through MLflow's URIs
        champion = governed_version(project, client, german_spec, german_training, promote="champion")
        scorecard_dict = german_spec.model_dump(mode="json")
        scorecard_dict["candidates"] = [c for c in scorecard_dict["candidates"] if c["family"] == "scorecard_logit"]
        scorecard_spec = parse_spec(scorecard_dict)
        challenger = governed_version(
            project, client, scorecard_spec, train(german_data, scorecard_spec), promote="challenger"
        )
    patch.undo()
    built = _fingerprint(project)
    yield ServedProject(project, champion, challenger, tokens)
    assert _fingerprint(project) == built, f"the served template {project} was changed by a test"


@pytest.fixture(scope="module")
def served_project(served_template, tmp_path_factory) -> ServedProject:
    """This test module's own copy of the served project (see ``served_template``)."""
    return served_template._replace(project=copy_project(served_template.project, tmp_path_factory.mktemp("served")))


@pytest.fixture
def own_served_project(served_template, tmp_path) -> ServedProject:
    """A copy of the served project for one test alone (a test that changes what the others rely on)."""
    return served_template._replace(project=copy_project(served_template.project, tmp_path / "served"))


@pytest.fixture(scope="session")
def applications_for_load(german_data, german_spec):
    """Real German applications as JSON-ready dicts (whole numbers as ints)."""
    from workbench.training import model_inputs

    rows = model_inputs(german_data.frame, german_spec).to_dict("records")
    return [{k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in r.items()} for r in rows]


@contextmanager
def in_process_server(project: Path, *, recheck_seconds: float = 1.0):
    """The project's scoring server in this process (registry followed by hand), with WORKBENCH_HOME set.

    Yields (server, app, MLflow client, decision log). MLflow's process-wide URIs point at the project until
    the server is closed (the package's fluent MLflow calls use them), then are put back.
    """
    from workbench.governance import AuditTrail, UserStore
    from workbench.serving import ModelServer, TokenIndex, create_app, open_decision_store

    with pytest.MonkeyPatch.context() as patch, registry_client(project) as client:
        patch.setenv("WORKBENCH_HOME", str(project))
        governance = project / "registry_store" / "governance"
        decisions = open_decision_store()
        server = ModelServer(
            "german_credit", client, decisions, AuditTrail(governance / "audit.jsonl"), refresh_seconds=0
        )
        try:
            server.start()
            tokens = TokenIndex(UserStore(governance / "users.json"), recheck_seconds=recheck_seconds)
            yield server, create_app(server, tokens, start=False), client, decisions
        finally:
            server.stop()
            decisions.close()


# --- a real PostgreSQL (Debian's server in a temporary directory; see tests/_postgres.py) ------------------------


@pytest.fixture(scope="session")
def postgres_cluster():
    """One PostgreSQL server for the session; skipped, with the reason, only where its binaries are absent."""
    from _postgres import PostgresCluster, missing_reason

    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    cluster = PostgresCluster()
    yield cluster
    cluster.close()


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    """A new, empty database of the session's PostgreSQL for this test alone."""
    return postgres_cluster.database()


# --- a real standalone Spark cluster (PySpark's own spark-class; see tests/_spark.py) ----------------------------


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One Spark session on a standalone master and worker for the session: (session, master URL).

    Skipped, with the reason, only where Java or PySpark is absent."""
    from _spark import cluster_session, java_missing

    missing = java_missing()
    if missing:
        pytest.skip(f"Spark tests need Java and PySpark: {missing}")
    with cluster_session(tmp_path_factory.mktemp("spark")) as running:
        yield running
