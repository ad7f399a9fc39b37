"""The development / validation split: deterministic from the spec, so a validator can re-derive it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from workbench.data._load import adverse_target
from workbench.spec import ModelSpec


@dataclass(frozen=True)
class Split:
    """Row positions of the development and validation samples in the loaded frame."""

    method: str
    development: np.ndarray
    validation: np.ndarray

    @property
    def sha256(self) -> str:
        """Identity of the split: equal hashes mean the same rows on each side."""
        digest = hashlib.sha256()
        digest.update(np.asarray(self.development, dtype="int64").tobytes())
        digest.update(b"|")
        digest.update(np.asarray(self.validation, dtype="int64").tobytes())
        return digest.hexdigest()


def make_split(frame: pd.DataFrame, spec: ModelSpec) -> Split:
    """Split as the spec says: stratified random with a seed, or out-of-time on a date column."""
    settings = spec.split
    positions = np.arange(len(frame))
    if settings.method == "out_of_time":
        dates = pd.to_datetime(frame[settings.date_column], errors="coerce")
        if dates.isna().any():
            raise ValueError(
                f"split.date_column: {int(dates.isna().sum())} value(s) of {settings.date_column!r} are not dates"
            )
        start = pd.Timestamp(settings.validation_start)
        if getattr(dates.dt, "tz", None) is not None:  # event times in UTC: the start day is a UTC day
            start = start.tz_localize(dates.dt.tz)
        is_validation = (dates >= start).to_numpy()
        if is_validation.all() or not is_validation.any():
            raise ValueError(f"split.validation_start: {settings.validation_start} leaves one sample empty")
        return Split("out_of_time", positions[~is_validation], positions[is_validation])
    y = adverse_target(frame, spec).to_numpy()
    development, validation = train_test_split(
        positions,
        test_size=settings.validation_fraction,
        random_state=settings.seed,
        stratify=y if settings.stratify else None,
    )
    return Split("random", np.sort(development), np.sort(validation))
