"""The feature store of fraud models: Feast, locally, generated from the spec.

Per-entity source tables computed from the events (:mod:`._definitions`), a Feast repository under
``registry_store/features/<name>/`` (file offline store, SQLite online store, file registry; no server),
point-in-time training sets under the label-delay rule, and the train-serve skew check. For AML models: the
account features over windows before each as-of time (:mod:`._aml_features`) and their Feast view
(:mod:`._aml_store`).
"""

from workbench.features._aml_features import FEATURES as AML_FEATURES
from workbench.features._aml_features import WINDOWS_DAYS as AML_WINDOWS_DAYS
from workbench.features._aml_features import account_features
from workbench.features._aml_features import feature_names as aml_feature_names
from workbench.features._aml_store import AML_VIEW, aml_store_values, apply_aml_store
from workbench.features._definitions import (
    READ_BEFORE,
    LabelLeakError,
    ViewDefinition,
    definitions_sha256,
    finish_features,
    finish_row,
    label_delay_violations,
    source_tables,
    view_definitions,
)
from workbench.features._skew import TOLERANCE, SkewReport, skew_check
from workbench.features._store import (
    FeatureStoreError,
    apply_store,
    feature_refs,
    historical_values,
    materialize,
    online_values,
    open_store,
    point_in_time_values,
    prepare_events,
    refuse_label_leaks,
    store_dir,
    store_state,
    training_set,
)

__all__ = [
    "READ_BEFORE",
    "TOLERANCE",
    "FeatureStoreError",
    "LabelLeakError",
    "SkewReport",
    "ViewDefinition",
    "apply_store",
    "definitions_sha256",
    "feature_refs",
    "finish_features",
    "finish_row",
    "historical_values",
    "label_delay_violations",
    "materialize",
    "online_values",
    "open_store",
    "point_in_time_values",
    "prepare_events",
    "refuse_label_leaks",
    "skew_check",
    "source_tables",
    "store_dir",
    "store_state",
    "training_set",
    "view_definitions",
]

# the AML kind's building blocks
__all__ += [
    "AML_FEATURES",
    "AML_VIEW",
    "AML_WINDOWS_DAYS",
    "account_features",
    "aml_feature_names",
    "aml_store_values",
    "apply_aml_store",
]
