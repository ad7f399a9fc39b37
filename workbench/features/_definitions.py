"""What the feature store holds for a spec: per-entity source tables and the request-time step.

Feast stores, joins point-in-time and serves feature values; it does not compute windowed aggregates over a
batch of past events. That computation is the domain logic written here, once, in numpy:

* a row of an entity's table is the entity's state just after one of its events (timestamp = the event's
  time, the event included), so the value a transaction may use is the latest row *strictly before* it, in
  training (Feast's point-in-time join at the event time minus one microsecond) and in serving (the online
  store materialised up to the same instant);
* a chargeback-derived table has one row per entity per day: the labels counted are those that had arrived
  by that day, never those stamped at their transaction's time (the label-delay rule);
* what depends on the event itself (time since the previous event, the amount against the entity's usual)
  is finished at request time by :func:`finish_features`, the one function both paths call.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.spec import ModelSpec, StoreFeature

#: a transaction reads the store as of this long before its own time: its own row is never visible to it
READ_BEFORE = pd.Timedelta(1, "us")
TIMESTAMP = "event_timestamp"
_DAY_US = 86_400_000_000


def window_micros(window: str) -> int:
    """A window such as ``1h`` or ``30d`` in microseconds."""
    unit = 3_600_000_000 if window.endswith("h") else _DAY_US
    return int(window[:-1]) * unit


def stored_columns(feature: StoreFeature) -> list[str]:
    """The columns the store keeps for one feature (the request-time step turns them into the feature)."""
    if feature.function == "time_since_last":
        return [f"{feature.name}__last"]
    if feature.function == "amount_zscore":
        return [f"{feature.name}__mean", f"{feature.name}__std"]
    if feature.function == "chargeback_rate":
        return [feature.name, f"{feature.name}__known", f"{feature.name}__events"]
    return [feature.name]


def daily(feature: StoreFeature) -> bool:
    """Whether the feature's table has one row per entity per day (chargeback-derived features)."""
    return feature.function == "chargeback_rate"


@dataclass(frozen=True)
class ViewDefinition:
    """One feature view: the entity, its key column, whether rows are daily, and the features it holds."""

    name: str
    entity: str
    key: str
    is_daily: bool
    features: tuple[StoreFeature, ...]

    @property
    def columns(self) -> list[str]:
        """The stored value columns, in order."""
        return [c for f in self.features for c in stored_columns(f)]


def view_definitions(spec: ModelSpec) -> list[ViewDefinition]:
    """The spec's store features grouped into views: per entity, event rows and daily rows apart."""
    views: dict[tuple[str, bool], list[StoreFeature]] = {}
    for feature in spec.features.from_store:
        views.setdefault((feature.entity, daily(feature)), []).append(feature)
    return [
        ViewDefinition(
            f"{spec.name}_{entity}{'_daily' if is_daily else ''}", entity, spec.entities[entity], is_daily, tuple(items)
        )
        for (entity, is_daily), items in views.items()
    ]


def definitions_sha256(spec: ModelSpec) -> str:
    """Identity of what the store computes: the entities, event time, label arrival and store features."""
    payload = {
        "entities": spec.entities,
        "event_time": spec.event_time,
        "arrival": spec.target.arrival_column,
        "target": spec.target.column,
        "features": [f.model_dump(mode="json") for f in spec.features.from_store],
        "ttl_hours": spec.feature_store.ttl_hours,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _micros(times: pd.Series) -> np.ndarray:
    """UTC times as int64 microseconds (missing: int64 min)."""
    values = pd.to_datetime(times, utc=True).astype("datetime64[us, UTC]")
    return values.array.asi8.copy() if hasattr(values.array, "asi8") else values.to_numpy().astype("int64")


def _window_start(key: np.ndarray, t: np.ndarray, window: int) -> np.ndarray:
    """For rows sorted by (key, t): the first row of the same key with time > t - window."""
    # keys are ranked so the composite (rank, time) sorts like the rows and the window never crosses keys
    span = np.int64(t.max() - t.min() + 2 * window + 1)
    rank = np.cumsum(np.r_[0, np.diff(key) != 0]).astype("int64")
    composite = rank * span + (t - t.min())
    return np.searchsorted(composite, composite - window, side="right")


def _windowed_max(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Max of ``values[start[i]:i+1]`` for every i, stepping back as far as the longest window reaches."""
    out = values.copy()
    position = np.arange(len(values))
    for back in range(1, int((position - start).max(initial=0)) + 1):
        inside = position - back >= start
        out[inside] = np.maximum(out[inside], values[position[inside] - back])
    return out


def _event_view(view: ViewDefinition, events: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """One row per event of the entity: its state just after the event (the event included)."""
    key = events[view.key].to_numpy().astype("int64")
    t = _micros(events[str(spec.event_time)])
    order = np.lexsort((t, key))
    key, t = key[order], t[order]
    out = pd.DataFrame({view.key: key, TIMESTAMP: pd.DatetimeIndex(t.astype("datetime64[us]"), tz="UTC")})
    position = np.arange(len(t))
    for feature in view.features:
        values = events[feature.column].to_numpy().astype("float64")[order]
        if feature.function == "time_since_last":
            out[f"{feature.name}__last"] = t.astype("float64") / 1e6
            continue
        start = _window_start(key, t, window_micros(str(feature.window)))
        count = (position - start + 1).astype("float64")
        sums = np.r_[0.0, np.cumsum(values)]
        total = sums[position + 1] - sums[start]
        if feature.function == "count":
            out[feature.name] = count
        elif feature.function == "sum":
            out[feature.name] = total
        elif feature.function == "mean":
            out[feature.name] = total / count
        elif feature.function == "max":
            out[feature.name] = _windowed_max(values, start)
        elif feature.function == "amount_zscore":
            squares = np.r_[0.0, np.cumsum(values**2)]
            mean = total / count
            with np.errstate(invalid="ignore", divide="ignore"):
                variance = (squares[position + 1] - squares[start] - count * mean**2) / (count - 1)
            out[f"{feature.name}__mean"] = mean
            out[f"{feature.name}__std"] = np.where(count > 1, np.sqrt(np.maximum(variance, 0.0)), np.nan)
    return out


def _daily_view(
    view: ViewDefinition, events: pd.DataFrame, spec: ModelSpec, arrival: pd.Series | None = None
) -> pd.DataFrame:
    """One row per entity per day (at midnight UTC): chargebacks counted once arrived by that midnight.

    ``arrival`` replaces the label arrival times; only a test that builds a deliberately leaky store passes
    it (e.g. the transaction times themselves).
    """
    key = events[view.key].to_numpy().astype("int64")
    t = _micros(events[str(spec.event_time)])
    adverse = events[spec.target.column].to_numpy().astype("float64") == 1.0
    arrived_at = _micros(events[str(spec.target.arrival_column)] if arrival is None else arrival)
    day = t // _DAY_US
    first, last = int(day.min()), int(day.max()) + 1
    days = np.arange(first, last + 1)  # midnights from the first day to the day after the last event
    keys, key_index = np.unique(key, return_inverse=True)
    n_keys, n_days = len(keys), len(days)
    per_day = np.zeros((n_keys, n_days), dtype="int64")
    np.add.at(per_day, (key_index, day - first), 1)
    cumulative = np.concatenate([np.zeros((n_keys, 1), dtype="int64"), np.cumsum(per_day, axis=1)], axis=1)
    midnight = days * _DAY_US
    out = []
    for feature in view.features:
        width = window_micros(str(feature.window)) // _DAY_US
        # events in [midnight - window, midnight): days d - width ... d - 1 (cumulative[:, j] counts days < j)
        upper = np.arange(n_days)
        lower = np.maximum(upper - width, 0)
        counted = (cumulative[:, upper] - cumulative[:, lower]).astype("float64")
        known = np.zeros((n_keys, n_days), dtype="float64")
        rows = np.flatnonzero(adverse)
        for chunk in np.array_split(rows, max(1, len(rows) // 2000)):
            inside = (
                (t[chunk, None] >= midnight[None, :] - width * _DAY_US)
                & (t[chunk, None] < midnight[None, :])
                & (arrived_at[chunk, None] <= midnight[None, :])
                & (arrived_at[chunk, None] != np.iinfo("int64").min)
            )
            np.add.at(known, key_index[chunk], inside.astype("float64"))
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(counted > 0, known / counted, np.nan)
        out.append({feature.name: rate, f"{feature.name}__known": known, f"{feature.name}__events": counted})
    table = pd.DataFrame(
        {
            view.key: np.repeat(keys, n_days),
            TIMESTAMP: pd.DatetimeIndex(np.tile(midnight, n_keys).astype("datetime64[us]"), tz="UTC"),
        }
    )
    for columns in out:
        for name, values in columns.items():
            table[name] = values.reshape(-1)
    return table


def source_tables(spec: ModelSpec, events: pd.DataFrame, arrival: pd.Series | None = None) -> dict[str, pd.DataFrame]:
    """Each view's source table (Parquet for Feast's file offline store), by view name."""
    tables = {}
    for view in view_definitions(spec):
        if view.is_daily:
            tables[view.name] = _daily_view(view, events, spec, arrival)
        else:
            tables[view.name] = _event_view(view, events, spec)
    return tables


def finish_features(spec: ModelSpec, stored: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The store features as the model takes them, from stored values and the events' own fields.

    The one request-time step of both paths: training (stored values from the offline point-in-time join)
    and serving or the skew check (stored values from the online store). ``stored`` and ``events`` are
    aligned row by row.
    """
    out = pd.DataFrame(index=events.index)
    when = _micros(events[str(spec.event_time)]).astype("float64") / 1e6
    for feature in spec.features.from_store:
        if feature.function == "time_since_last":
            out[feature.name] = when - stored[f"{feature.name}__last"].to_numpy(dtype="float64", na_value=np.nan)
        elif feature.function == "amount_zscore":
            mean = stored[f"{feature.name}__mean"].to_numpy(dtype="float64", na_value=np.nan)
            std = stored[f"{feature.name}__std"].to_numpy(dtype="float64", na_value=np.nan)
            value = events[feature.column].to_numpy(dtype="float64")
            with np.errstate(invalid="ignore", divide="ignore"):
                out[feature.name] = np.where(std > 0, (value - mean) / std, np.nan)
        else:
            out[feature.name] = stored[feature.name].to_numpy(dtype="float64", na_value=np.nan)
    return out


def finish_row(spec: ModelSpec, stored: dict[str, float | None], micros: int, event: dict) -> dict[str, float]:
    """:func:`finish_features` for one event, without pandas (the scoring server's per-request form).

    ``stored`` holds the event's stored values by column (None or NaN: missing), ``micros`` its time in
    microseconds since the epoch, ``event`` its own fields. The arithmetic is the same IEEE operations in the
    same order as :func:`finish_features` (a test holds the two equal, bit for bit, on real events); a missing
    result is NaN.
    """
    nan = float("nan")

    def value(column: str) -> float:
        found = stored.get(column)
        return nan if found is None else float(found)

    out: dict[str, float] = {}
    when = float(micros) / 1e6
    for feature in spec.features.from_store:
        if feature.function == "time_since_last":
            out[feature.name] = when - value(f"{feature.name}__last")
        elif feature.function == "amount_zscore":
            mean, std = value(f"{feature.name}__mean"), value(f"{feature.name}__std")
            out[feature.name] = (float(event[feature.column]) - mean) / std if std > 0 else nan
        else:
            out[feature.name] = value(feature.name)
    return out


class LabelLeakError(ValueError):
    """A feature used labels that had not arrived by the time of the event it describes."""


def label_delay_violations(spec: ModelSpec, training: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Rows whose chargeback-derived features count labels that had not arrived by the store row they read.

    Recomputed independently of the store: for each row, the labels of the entity's events in the window
    before the midnight the row read, counted only when they had arrived by that midnight (searchsorted over
    the raw events). A training set built with labels stamped at their transaction's time counts more and is
    listed here; one built by the rule lists nothing. Returns feature, rows affected and the largest excess.
    """
    problems = []
    when = _micros(events[str(spec.event_time)])
    read_at = when - 1
    midnight = (read_at // _DAY_US) * _DAY_US
    adverse = events[spec.target.column].to_numpy().astype("float64") == 1.0
    arrived = _micros(events[str(spec.target.arrival_column)]) if spec.target.arrival_column else None
    for feature in spec.features.from_store:
        if feature.function != "chargeback_rate" or arrived is None:
            continue
        key = events[spec.entities[feature.entity]].to_numpy().astype("int64")
        width = window_micros(str(feature.window))
        known = np.zeros(len(events))
        fraud = np.flatnonzero(adverse & (arrived != np.iinfo("int64").min))
        by_key: dict[int, np.ndarray] = {}
        for k in np.unique(key[fraud]):
            by_key[int(k)] = fraud[key[fraud] == k]
        for k, rows_k in by_key.items():
            mine = np.flatnonzero(key == k)
            inside = (
                (when[rows_k][None, :] >= midnight[mine][:, None] - width)
                & (when[rows_k][None, :] < midnight[mine][:, None])
                & (arrived[rows_k][None, :] <= midnight[mine][:, None])
            )
            known[mine] = inside.sum(axis=1)
        column = f"{feature.name}__known"
        used = training[column].to_numpy(dtype="float64", na_value=np.nan)
        excess = np.nan_to_num(used, nan=0.0) - known
        leaking = excess > 0
        if leaking.any():
            problems.append(
                {
                    "feature": feature.name,
                    "rows": int(leaking.sum()),
                    "largest_excess": float(excess.max()),
                    "example_transaction_row": int(np.flatnonzero(leaking)[0]),
                }
            )
    return pd.DataFrame(problems, columns=["feature", "rows", "largest_excess", "example_transaction_row"])
