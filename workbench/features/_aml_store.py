"""The AML account features as a Feast feature view: one row per account and as-of time, served point in time.

:func:`account_features` computes the windows (Feast does not aggregate over past events); this module hands
the result to Feast the way the fraud store does: a Parquet source table, an ``account`` entity keyed by
``account_id`` and one feature view of the windowed features. A row stamped at an as-of time holds what was
known at that time (transfers strictly before it), so Feast's point-in-time join (the latest row at or before
the entity row's timestamp) gives a model exactly the features :func:`account_features` gives it.

Standalone (a repository folder, no spec): the kind's module decides where the repository lives and when it is
rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from workbench.features._aml_features import WINDOWS_DAYS, feature_names

if TYPE_CHECKING:
    from feast import FeatureStore

AML_VIEW = "aml_account_windows"
AML_ENTITY = "account"
_TIMESTAMP = "event_timestamp"


def _config(repo: Path, project: str):
    from feast.infra.offline_stores.dask import DaskOfflineStoreConfig
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
    from feast.repo_config import RepoConfig

    return RepoConfig(
        project=project,
        registry=str(repo / "registry.pb"),
        provider="local",
        offline_store=DaskOfflineStoreConfig(),
        online_store=SqliteOnlineStoreConfig(path=str(repo / "online.db")),
        entity_key_serialization_version=3,
        repo_path=str(repo),
    )


def apply_aml_store(
    repo: Path,
    features: pd.DataFrame,
    *,
    windows: Sequence[int] = WINDOWS_DAYS,
    project: str = "aml",
    ttl_days: int = 31,
) -> FeatureStore:
    """Write ``features`` (the output of :func:`account_features`) as the view's source and register it.

    ``ttl_days`` bounds how old a row Feast may serve (a month of as-of times by default).
    """
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64

    columns = feature_names(windows)
    missing = [c for c in ["account_id", "as_of", *columns] if c not in features.columns]
    if missing:
        raise ValueError(f"features: missing column(s) {missing[:5]} (compute them with account_features)")
    repo = Path(repo)
    (repo / "data").mkdir(parents=True, exist_ok=True)
    table = features[["account_id", *columns]].astype({c: "float64" for c in columns})
    table.insert(1, _TIMESTAMP, pd.to_datetime(features["as_of"], utc=True))
    table.to_parquet(repo / "data" / f"{AML_VIEW}.parquet", index=False)
    account = Entity(name=AML_ENTITY, join_keys=["account_id"], value_type=ValueType.INT64, description="account")
    view = FeatureView(
        name=AML_VIEW,
        entities=[account],
        ttl=timedelta(days=ttl_days),
        schema=[Field(name=column, dtype=Float64) for column in columns],
        source=FileSource(name=f"{AML_VIEW}_source", path=f"data/{AML_VIEW}.parquet", timestamp_field=_TIMESTAMP),
        online=True,
        description="account transfers over windows before each as-of time",
    )
    store = FeatureStore(config=_config(repo, project))
    store.apply([account, view])
    return store


def aml_store_values(store: FeatureStore, rows: pd.DataFrame, *, windows: Sequence[int] = WINDOWS_DAYS) -> pd.DataFrame:
    """The view's features for ``rows`` (``account_id`` and ``as_of``) through Feast's point-in-time join."""
    entity_rows = pd.DataFrame(
        {"account_id": rows["account_id"].to_numpy(), _TIMESTAMP: pd.to_datetime(rows["as_of"], utc=True)}
    ).reset_index(names="_row")
    refs = [f"{AML_VIEW}:{column}" for column in feature_names(windows)]
    found = store.get_historical_features(entity_df=entity_rows, features=refs).to_df()
    found = found.sort_values("_row").set_index("_row")
    return found[feature_names(windows)].reset_index(drop=True)
