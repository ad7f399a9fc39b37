"""A spec's data: loading and hashing, protected-group derivation, quality checks and the split."""

from workbench.data._aliasing import AliasedFeature, aliased_features
from workbench.data._checks import (
    DATA_CHECKS,
    DataCheck,
    DataValidationError,
    DataValidationResult,
    validate_data,
)
from workbench.data._load import (
    DataChangedError,
    ModelData,
    add_protected_bands,
    adverse_target,
    load_model_data,
    model_inputs,
    read_spec,
    resolve_data_path,
)
from workbench.data._split import Split, make_split

__all__ = [
    "AliasedFeature",
    "DATA_CHECKS",
    "DataChangedError",
    "DataCheck",
    "DataValidationError",
    "DataValidationResult",
    "ModelData",
    "Split",
    "add_protected_bands",
    "adverse_target",
    "aliased_features",
    "load_model_data",
    "make_split",
    "model_inputs",
    "read_spec",
    "resolve_data_path",
    "validate_data",
]
