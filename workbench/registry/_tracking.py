"""Which MLflow backend is the system of record, and the experiment each model's runs go to.

By default it is the embedded SQLite store under ``registry_store/`` with artefacts beside it; any MLflow
tracking URI in ``MLFLOW_TRACKING_URI`` (Postgres, a remote server) replaces it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from workbench.paths import registry_store

DEFAULT_DATABASE = "mlflow.db"


class RegistryUnavailableError(RuntimeError):
    """The registry database cannot be used as it is; the message names the file and what to do."""


def _trail_with_records() -> Path | None:
    """The governance audit trail, if it holds records (its location is governance's; read here only by path)."""
    configured = os.environ.get("WORKBENCH_AUDIT")
    trail = Path(configured).expanduser() if configured else registry_store() / "governance" / "audit.jsonl"
    return trail if trail.is_file() and trail.stat().st_size > 0 else None


def check_database(path: Path) -> None:
    """Refuse a damaged SQLite registry, and an absent or emptied one while the audit trail has a history.

    MLflow would create a fresh, empty database over a deleted or emptied one, and new versions would then
    reuse the numbers of the lost ones: the trail would mix two histories of ``model/1``.
    """
    trail = _trail_with_records()
    if not path.is_file() or path.stat().st_size == 0:
        if trail is not None and _trail_names_versions(trail):
            raise RegistryUnavailableError(
                f"{path}: the registry database is missing or empty while the audit trail {trail} holds a "
                "history; restore the database from its backup (a new registry is not started over an old history)"
            )
        return
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = connection.execute("PRAGMA quick_check").fetchone()[0]
            tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            versions = (
                connection.execute("SELECT count(*) FROM model_versions").fetchone()[0]
                if "model_versions" in tables
                else 0
            )
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise RegistryUnavailableError(
            f"{path}: the registry database cannot be read ({error}); restore it from its backup"
        ) from None
    if check != "ok":
        raise RegistryUnavailableError(
            f"{path}: the registry database is damaged ({check}); restore it from its backup"
        )
    if trail is not None and versions == 0 and _trail_names_versions(trail):
        raise RegistryUnavailableError(
            f"{path}: the registry holds no model versions while the audit trail {trail} records actions on some; "
            "restore the database from its backup (a new registry is not started over an old history)"
        )


def _trail_names_versions(trail: Path) -> bool:
    """True if any record of the trail targets a model version ("name/number")."""
    import json

    for line in trail.read_text("utf-8", errors="replace").splitlines():
        try:
            target = str(json.loads(line).get("target", ""))
        except (json.JSONDecodeError, AttributeError):
            continue
        if target.rpartition("/")[2].isdigit():
            return True
    return False


def _is_default() -> bool:
    return not os.environ.get("MLFLOW_TRACKING_URI")


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else SQLite under ``registry_store/``."""
    if not _is_default():
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{registry_store() / DEFAULT_DATABASE}"


def configure(uri: str | None = None) -> MlflowClient:
    """Point MLflow (tracking and registry) at the system of record and return a client for it."""
    # no telemetry calls home and no progress bars for internal artefact downloads
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = uri or tracking_uri()
    if uri.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(uri[len("sqlite:///") :]) or ".", exist_ok=True)
        if uri == tracking_uri():
            check_database(Path(uri[len("sqlite:///") :]))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(client: MlflowClient, name: str) -> str:
    """The experiment id for a model's runs, created on first use (artefacts beside the SQLite store)."""
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    uri = client.tracking_uri
    location = None
    if uri.startswith("sqlite:///"):
        folder = os.path.join(os.path.dirname(uri[len("sqlite:///") :]), "artifacts")
        location = "file://" + os.path.abspath(folder)
    return client.create_experiment(name, artifact_location=location)
