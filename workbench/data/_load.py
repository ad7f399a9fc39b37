"""Loading a spec's data set (shipped or a file), hashing it and deriving protected groups."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from workbench.datasets import GENERATED, SHIPPED
from workbench.kinds import kind_of
from workbench.paths import project_root, registry_store
from workbench.provenance import file_sha256
from workbench.spec import ModelSpec, SpecError, check_spec_against_data, label_keys, load_spec


@dataclass(frozen=True)
class ModelData:
    """A spec's data as loaded: the frame with derived protected groups, and the identity of its source."""

    frame: pd.DataFrame
    sha256: str
    source: str
    path: Path


class DataChangedError(RuntimeError):
    """The data no longer matches the hash a spec or a registered version recorded."""


def generated_data_path(spec: ModelSpec) -> Path:
    """The Parquet file of a generated data set, drawn on first use from the spec's rows and seed.

    Drawing is deterministic, so the file is a cache: a lock keeps two processes from drawing it at once and
    it is written under a temporary name, then renamed, so a reader never sees half a file.
    """
    dataset = spec.dataset
    rows = dataset.rows or 100_000
    seed = dataset.seed if dataset.seed is not None else 0
    folder = registry_store() / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dataset.name}_{rows}_{seed}.parquet"
    with FileLock(str(folder / f".{path.name}.lock"), timeout=600):
        if not path.is_file():
            partial = folder / f".{path.name}.partial"
            GENERATED[str(dataset.name)](rows, seed).to_parquet(partial, index=False)
            os.replace(partial, path)
    return path


def resolve_data_path(spec: ModelSpec) -> tuple[Path, str]:
    """The file that identifies the spec's data, and how to name it in messages."""
    if spec.dataset.name is not None:
        if spec.dataset.name in GENERATED:
            path = generated_data_path(spec)
            return path, f"generated data set {spec.dataset.name!r} (synthetic, {path.name})"
        if spec.dataset.name not in SHIPPED:
            known = ", ".join([*SHIPPED, *GENERATED])
            raise SpecError("dataset", [("dataset.name", f"no shipped data set {spec.dataset.name!r}; known: {known}")])
        if spec.dataset.rows is not None or spec.dataset.seed is not None:
            raise SpecError("dataset", [("dataset.rows", f"{spec.dataset.name!r} is shipped, not generated")])
        return SHIPPED[spec.dataset.name][0](), f"shipped data set {spec.dataset.name!r}"
    raw = Path(os.path.expanduser(str(spec.dataset.path)))
    path = raw if raw.is_absolute() else project_root() / raw
    if not path.is_file():
        raise SpecError("dataset", [("dataset.path", f"no such file: {path}")])
    return path, str(spec.dataset.path)


def _header(dataset: Any) -> tuple[list[str], str] | None:
    """The column names of a spec's data (the header only), or None when the data cannot be found or read."""
    if not isinstance(dataset, dict):
        return None
    try:
        if isinstance(dataset.get("name"), str):
            return [str(c) for c in SHIPPED[dataset["name"]][1]().columns], f"shipped data set {dataset['name']!r}"
        if isinstance(dataset.get("path"), str):
            raw = Path(os.path.expanduser(dataset["path"]))
            path, source = (raw if raw.is_absolute() else project_root() / raw), dataset["path"]
        else:
            return None
        if dataset.get("format") == "parquet" or (dataset.get("format") is None and path.suffix == ".parquet"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names), source
        return [str(c) for c in pd.read_csv(path, nrows=0).columns], source
    except (KeyError, OSError, ValueError):
        return None


def read_spec(path: str | Path) -> ModelSpec:
    """Read a spec file for a run: a feature that is not a column of the data is reported as such, first."""
    return load_spec(path, columns_of=_header)


def add_protected_bands(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Add banded protected groups (e.g. age < 25 vs >= 25); lower edges are inclusive."""
    out = frame
    for attribute in spec.protected_attributes:
        band = attribute.band
        if band is None or band.source not in frame.columns:
            continue
        values = pd.to_numeric(frame[band.source], errors="coerce")
        edges = [-np.inf, *band.edges, np.inf]
        banded = pd.cut(values, bins=edges, labels=band.labels, right=False)
        out = out.assign(**{attribute.data_column: banded.astype("string").astype(object)})
    return out


def _read_file(path: Path, file_format: str) -> pd.DataFrame:
    if file_format == "csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


def load_model_data(spec: ModelSpec, expected_sha256: str | None = None) -> ModelData:
    """Load, hash and check the spec's data; refuse data whose hash differs from the one expected.

    ``expected_sha256`` (or the spec's own ``dataset.sha256``) pins the data: a re-run on changed data
    is refused rather than silently producing a different model.
    """
    path, source = resolve_data_path(spec)
    sha256 = file_sha256(path)
    for expected, origin in ((spec.dataset.sha256, "the spec's dataset.sha256"), (expected_sha256, "the record")):
        if expected is not None and expected != sha256:
            raise DataChangedError(
                f"data {source} has sha256 {sha256}, but {origin} says {expected}: the data changed since it was "
                "recorded, so results from it would not be comparable; restore the original file or train a new version"
            )
    if spec.dataset.name is not None and spec.dataset.name in SHIPPED:
        frame = SHIPPED[spec.dataset.name][1]()
    elif spec.dataset.name is not None:
        frame = pd.read_parquet(path)
    else:
        frame = _read_file(path, spec.dataset.file_format)
    if kind_of(spec).feature_store:
        frame = _with_store_features(spec, frame, sha256, source)
    frame = add_protected_bands(frame, spec)
    check_spec_against_data(spec, frame, source)
    return ModelData(frame=frame.reset_index(drop=True), sha256=sha256, source=source, path=path)


def _with_store_features(spec: ModelSpec, frame: pd.DataFrame, sha256: str, source: str) -> pd.DataFrame:
    """A fraud model's events with their point-in-time store features (built by Feast from the spec)."""
    from workbench.features import training_set

    needed = [*spec.entities.values(), str(spec.event_time), spec.target.column]
    needed += [f.column for f in spec.features.from_store]
    if spec.target.arrival_column:
        needed.append(spec.target.arrival_column)
    missing = sorted({c for c in needed if c not in frame.columns})
    if missing:
        raise SpecError(source, [("entities", f"{', '.join(missing)} not a column of {source}")])
    built = training_set(spec, frame, sha256)
    warm_up = spec.feature_store.warm_up_days
    if warm_up:  # the first days build the windows' history; their own rows would have half-empty windows
        start = built[str(spec.event_time)].min() + pd.Timedelta(days=warm_up)
        built = built[built[str(spec.event_time)] >= start]
    return built.reset_index(drop=True)


def adverse_target(frame: pd.DataFrame, spec: ModelSpec) -> pd.Series:
    """The target as 1 for an adverse value and 0 for a favourable one (NaN: no target, or a value in neither).

    Labels are compared in their canonical form (:func:`workbench.spec.label_keys`), so ``1``, ``"1"`` and
    ``1.0`` are one value whatever type the column has.
    """
    target = spec.target
    keys = label_keys(frame[target.column])
    adverse = keys.isin(target.adverse_labels)
    known = keys.notna() if target.favourable_labels is None else adverse | keys.isin(target.favourable_labels)
    return adverse.astype("float64").where(known)


def model_inputs(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """The model's input columns in spec order: numbers as float64, categories as text (missing kept)."""
    inputs = pd.DataFrame(index=frame.index)
    for name in spec.features.numeric:
        inputs[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
    for name in spec.features.categorical:
        column = frame[name]
        inputs[name] = column.astype(object).where(column.isna(), column.astype(str))
    return inputs
