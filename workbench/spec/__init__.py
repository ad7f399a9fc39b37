"""Model specs: the schema, loading with key-named errors, hashing and checks against the data."""

from workbench.spec._errors import SpecError
from workbench.spec._load import check_spec_against_data, load_spec, parse_spec, spec_sha256, spec_to_dict
from workbench.spec._schema import (
    BandSpec,
    CandidateSpec,
    DatasetSpec,
    DecisionSpec,
    FeatureSpec,
    ModelSpec,
    ProtectedAttribute,
    RolloutLimits,
    SplitSpec,
    TargetSpec,
    Thresholds,
)

__all__ = [
    "BandSpec",
    "CandidateSpec",
    "DatasetSpec",
    "DecisionSpec",
    "FeatureSpec",
    "ModelSpec",
    "ProtectedAttribute",
    "RolloutLimits",
    "SpecError",
    "SplitSpec",
    "TargetSpec",
    "Thresholds",
    "check_spec_against_data",
    "load_spec",
    "parse_spec",
    "spec_sha256",
    "spec_to_dict",
]
