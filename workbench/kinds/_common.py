"""The validation tests every kind takes: data quality, ranking, stability, soundness, sensitivity, segments."""

from __future__ import annotations

COMMON_TESTS: tuple[str, ...] = (
    "data.representativeness",
    "data.missingness",
    "data.outliers",
    "data.leakage",
    "discrimination.auc",
    "discrimination.gini",
    "discrimination.ks",
    "discrimination.roc_curve",
    "discrimination.cap_curve",
    "discrimination.lift_by_decile",
    "benchmarking.*",
    "overfitting.*",
    "segments.performance",
    "segments.protected_groups",
    "sensitivity.*",
    "soundness.vif",
    "soundness.woe_iv",
    "soundness.monotonicity",
    "stability.score_psi",
    "stability.feature_csi",
)
