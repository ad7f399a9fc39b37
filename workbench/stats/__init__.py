"""Statistics for validation and monitoring: PSI on fixed bins, DeLong, calibration and back-tests, WoE / IV."""

from workbench.stats._calibration import (
    HosmerLemeshow,
    binomial_test,
    hosmer_lemeshow,
    jeffreys_test,
    traffic_light,
)
from workbench.stats._delong import AucComparison, AucInterval, delong_auc, delong_test
from workbench.stats._performance import ks_statistic, performance_summary
from workbench.stats._psi import EMPTY_BIN_SHARE, Bins, fit_bins, psi, psi_from_counts, psi_table
from workbench.stats._single_feature import leakage_screen, single_feature_auc
from workbench.stats._woe import information_value, woe_table

__all__ = [
    "EMPTY_BIN_SHARE",
    "AucComparison",
    "AucInterval",
    "Bins",
    "HosmerLemeshow",
    "binomial_test",
    "delong_auc",
    "delong_test",
    "fit_bins",
    "hosmer_lemeshow",
    "information_value",
    "jeffreys_test",
    "ks_statistic",
    "leakage_screen",
    "performance_summary",
    "psi",
    "psi_from_counts",
    "psi_table",
    "single_feature_auc",
    "traffic_light",
    "woe_table",
]
