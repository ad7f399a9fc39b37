"""Which MLflow backend is the system of record, and the experiment each model's runs go to.

By default it is the embedded SQLite store under ``registry_store/`` with artefacts beside it; any MLflow
tracking URI in ``MLFLOW_TRACKING_URI`` (Postgres, a remote server) replaces it.
"""

from __future__ import annotations

import logging
import os

import mlflow
from mlflow import MlflowClient

from workbench.paths import registry_store

DEFAULT_DATABASE = "mlflow.db"


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
