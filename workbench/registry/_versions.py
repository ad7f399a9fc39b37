"""Looking up registered versions and fingerprinting their artefacts."""

from __future__ import annotations

import difflib
import re
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from workbench.provenance import directory_sha256


class VersionNotFoundError(LookupError):
    """No such registered model or version."""


#: a name MLflow's filter syntax can quote (registered names are far narrower, see the spec's name pattern)
_QUOTABLE = re.compile(r"^[^'\\]*$")


def _no_such_model(client: MlflowClient, name: str) -> VersionNotFoundError:
    """The error for an unknown model name, with the nearest registered name or the registered ones."""
    names = sorted(m.name for m in client.search_registered_models())
    if name in names:
        return VersionNotFoundError(f"model {name!r} has no registered version yet")
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        hint = f" (did you mean {close[0]!r}?)"
    elif names:
        hint = f"; registered: {', '.join(names[:12])}{', ...' if len(names) > 12 else ''}"
    else:
        hint = "; no model is registered yet (workbench run SPEC registers one)"
    return VersionNotFoundError(f"no registered model named {name!r}{hint}")


def get_version(client: MlflowClient, name: str, version: int | str) -> ModelVersion:
    """A registered version, or a clear error naming what is missing (and the nearest name for a typo)."""
    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        if not _QUOTABLE.match(name):
            raise _no_such_model(client, name) from None
        known = [str(v.version) for v in client.search_model_versions(f"name='{name}'")]
        if not known:
            raise _no_such_model(client, name) from None
        raise VersionNotFoundError(
            f"model {name!r} has no version {version} (versions: {', '.join(sorted(known, key=int))})"
        ) from None


def version_for_run(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    """The version registered from a run, if any."""
    versions = [v for v in client.search_model_versions(f"name='{name}'") if v.run_id == run_id]
    return max(versions, key=lambda v: int(v.version)) if versions else None


def model_uri(name: str, version: int | str) -> str:
    """The registry URI of a version's artefact."""
    return f"models:/{name}/{version}"


def download_artefact(name: str, version: int | str, folder: str) -> str:
    """The version's artefact downloaded into ``folder``; FileNotFoundError naming it when nothing is there."""
    local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri(name, version), dst_path=folder)
    if not any(path.is_file() for path in Path(local).rglob("*")):
        raise FileNotFoundError(f"no files at the artefact location of {name}/{version} (deleted?)")
    return local


def model_sha256(name: str, version: int | str) -> str:
    """sha256 of the version's artefact exactly as the registry serves it (every file, names and bytes)."""
    with tempfile.TemporaryDirectory() as folder:
        return directory_sha256(download_artefact(name, version, folder))


def load_model(name: str, version: int | str):
    """The version's scikit-learn pipeline, loaded from the registry (never from a training kernel)."""
    return mlflow.sklearn.load_model(model_uri(name, version))
