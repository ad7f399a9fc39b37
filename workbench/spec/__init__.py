"""Model specs: the schema, loading with key-named errors, hashing and checks against the data."""

from workbench.spec._errors import SpecError
from workbench.spec._labels import MISSING_GROUP, group_labels, label_key, label_keys
from workbench.spec._load import (
    check_spec_against_data,
    load_spec,
    parse_spec,
    spec_sha256,
    spec_to_dict,
    without_features,
)
from workbench.spec._schema import (
    BandSpec,
    CandidateSpec,
    DatasetSpec,
    DecisionSpec,
    FairnessSpec,
    FeatureSpec,
    ModelSpec,
    ProtectedAttribute,
    RolloutLimits,
    SplitSpec,
    StoreFeature,
    TargetSpec,
    Thresholds,
)

__all__ = [
    "MISSING_GROUP",
    "BandSpec",
    "CandidateSpec",
    "DatasetSpec",
    "DecisionSpec",
    "FairnessSpec",
    "FeatureSpec",
    "ModelSpec",
    "ProtectedAttribute",
    "RolloutLimits",
    "SpecError",
    "SplitSpec",
    "StoreFeature",
    "TargetSpec",
    "Thresholds",
    "check_spec_against_data",
    "group_labels",
    "label_key",
    "label_keys",
    "load_spec",
    "parse_spec",
    "spec_sha256",
    "spec_to_dict",
    "without_features",
]
