"""What a registered version was built from, loaded back from the registry and checked against the record.

The artefact is downloaded once, hashed, and loaded from that same download, so what is checked is what is
used. The spec, data and split are the ones recorded with the version (hash-checked): they give the input
contract, the development background for contributions and the validation sample that serving, replay and
monitoring compare against.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.pipeline import Pipeline

from workbench.data import load_model_data, make_split, model_inputs
from workbench.provenance import directory_sha256
from workbench.registry._records import recorded_spec
from workbench.registry._versions import download_artefact
from workbench.spec import ModelSpec


class RecordMismatchError(RuntimeError):
    """What a version records can no longer be re-derived (the data or split changed)."""


class ArtefactChangedError(RecordMismatchError):
    """The artefact's bytes are not the ones expected (approved); nothing of it was deserialised."""


def load_artefact(
    client: MlflowClient, name: str, version: int, expected_sha256: str | None = None
) -> tuple[Pipeline, str]:
    """The version's pipeline and the sha256 of exactly the bytes it was loaded from.

    With ``expected_sha256`` the downloaded bytes are hashed first and refused (:class:`ArtefactChangedError`)
    unless they match, before anything is deserialised: a changed or corrupted file is never unpickled.
    """
    with tempfile.TemporaryDirectory() as folder:
        try:
            local = download_artefact(name, version, folder)
        except (OSError, MlflowException) as error:
            raise ArtefactChangedError(
                f"{name}/{version}: its artefact cannot be read from the registry ({error}); restore the "
                "artefact from its backup or archive the version"
            ) from None
        sha = directory_sha256(local)
        if expected_sha256 is not None and sha != expected_sha256:
            raise ArtefactChangedError(
                f"{name}/{version}: the artefact's sha256 {sha[:12]}... differs from the approved "
                f"{expected_sha256[:12]}...; refusing to load a changed model (nothing was deserialised)"
            )
        return mlflow.sklearn.load_model(local), sha


@dataclass
class RecordedSamples:
    """The recorded spec and the samples a version was developed and validated on."""

    spec: ModelSpec
    inputs: pd.DataFrame
    development: pd.DataFrame
    validation: pd.DataFrame


def load_recorded_samples(
    client: MlflowClient, name: str, version: int, tags: dict[str, str], run_id: str
) -> RecordedSamples:
    """The spec recorded with the version, its data (hash-checked) and its split (hash-checked)."""
    spec = recorded_spec(client, run_id)
    data = load_model_data(spec, expected_sha256=tags.get("data_sha256"))
    split = make_split(data.frame, spec)
    if tags.get("split_sha256") and split.sha256 != tags["split_sha256"]:
        raise RecordMismatchError(f"{name}/{version}: the recorded split cannot be re-derived from the data")
    inputs = model_inputs(data.frame, spec)
    return RecordedSamples(spec, inputs, inputs.iloc[split.development], inputs.iloc[split.validation])
