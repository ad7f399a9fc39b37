"""The train-serve skew check: every feature, offline point-in-time against the online path, event by event.

A sample of historical events is replayed in time order through the online path: the online store (a
scratch copy, so the real one is untouched) is materialised incrementally up to one microsecond before each
event, the entity's values are read as the scoring server reads them and finished by the same request-time
step; the offline values come from Feast's historical retrieval of the same events. The largest absolute
difference per feature is reported; above ``tolerance`` (1e-9) the check fails.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.features._definitions import READ_BEFORE, finish_features
from workbench.features._store import _open, _require, historical_values, online_values, scratch_copy
from workbench.spec import ModelSpec

TOLERANCE = 1e-9


@dataclass
class SkewReport:
    """Largest difference per feature between the offline and online values of the sampled events."""

    table: pd.DataFrame
    events: int
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        """No feature differs by more than the tolerance (a value on one side only counts as infinite)."""
        return bool((self.table["max_abs_difference"] <= self.tolerance).all())

    @property
    def worst(self) -> pd.Series:
        """The feature with the largest difference."""
        return self.table.sort_values("max_abs_difference", ascending=False).iloc[0]


def _difference(offline: np.ndarray, online: np.ndarray) -> np.ndarray:
    """Absolute difference; equal when both are missing, infinite when only one is."""
    both = np.isnan(offline) & np.isnan(online)
    one = np.isnan(offline) ^ np.isnan(online)
    with np.errstate(invalid="ignore"):
        diff = np.abs(offline - online)
    return np.where(both, 0.0, np.where(one, np.inf, diff))


def sample_events(spec: ModelSpec, events: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """A seeded sample of events in time order."""
    rows = np.random.default_rng(seed).choice(len(events), min(size, len(events)), replace=False)
    sample = events.iloc[np.sort(rows)]
    return sample.sort_values(str(spec.event_time), kind="stable")


def skew_check(spec: ModelSpec, events: pd.DataFrame, *, sample: int = 50, seed: int = 0) -> SkewReport:
    """Replay ``sample`` events through the online path and compare every store feature with the offline value."""
    repo = _require(spec)
    chosen = sample_events(spec, events, sample, seed)
    offline = finish_features(spec, historical_values(_open(spec, repo), spec, chosen), chosen)
    scratch, store = scratch_copy(spec)
    try:
        online_rows = []
        start = pd.Timestamp("1970-01-01", tz="UTC").to_pydatetime()
        times = pd.to_datetime(chosen[str(spec.event_time)], utc=True)
        for position in range(len(chosen)):
            until = (times.iloc[position] - READ_BEFORE).to_pydatetime()
            if until > start:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    store.materialize(start_date=start, end_date=until)  # Feast prints its progress
                start = until
            event = chosen.iloc[[position]]
            online_rows.append(finish_features(spec, online_values(store, spec, event), event))
        online = pd.concat(online_rows)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = []
    for name in offline.columns:
        diff = _difference(offline[name].to_numpy(dtype="float64"), online[name].to_numpy(dtype="float64"))
        worst = int(np.argmax(diff)) if len(diff) else 0
        rows.append(
            {
                "feature": name,
                "max_abs_difference": float(diff.max()) if len(diff) else 0.0,
                "events_differing": int((diff > TOLERANCE).sum()),
                "offline_at_worst": float(offline[name].iloc[worst]) if len(diff) else np.nan,
                "online_at_worst": float(online[name].iloc[worst]) if len(diff) else np.nan,
            }
        )
    return SkewReport(pd.DataFrame(rows), len(chosen))
