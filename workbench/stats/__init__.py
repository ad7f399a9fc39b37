"""Statistics for validation and monitoring: PSI on fixed bins, DeLong, calibration and back-tests, WoE / IV,
gains, lift and the profit curve of a campaign."""

from workbench.stats._calibration import (
    CalibrationError,
    HosmerLemeshow,
    PortfolioJeffreys,
    Spiegelhalter,
    VasicekBinomial,
    binomial_test,
    expected_calibration_error,
    hosmer_lemeshow,
    jeffreys_portfolio_test,
    jeffreys_test,
    spiegelhalter_test,
    traffic_light,
    vasicek_binomial_test,
    vasicek_default_sf,
)
from workbench.stats._delong import AucComparison, AucInterval, delong_auc, delong_test
from workbench.stats._gains import gains_table, profit_curve
from workbench.stats._performance import ks_statistic, performance_summary
from workbench.stats._psi import EMPTY_BIN_SHARE, Bins, fit_bins, psi, psi_from_counts, psi_table
from workbench.stats._single_feature import leakage_screen, leakage_suspects, single_feature_auc
from workbench.stats._woe import information_value, woe_table

__all__ = [
    "EMPTY_BIN_SHARE",
    "AucComparison",
    "AucInterval",
    "Bins",
    "CalibrationError",
    "HosmerLemeshow",
    "PortfolioJeffreys",
    "Spiegelhalter",
    "VasicekBinomial",
    "binomial_test",
    "delong_auc",
    "delong_test",
    "expected_calibration_error",
    "fit_bins",
    "gains_table",
    "hosmer_lemeshow",
    "information_value",
    "jeffreys_portfolio_test",
    "jeffreys_test",
    "ks_statistic",
    "leakage_screen",
    "leakage_suspects",
    "performance_summary",
    "profit_curve",
    "psi",
    "psi_from_counts",
    "psi_table",
    "single_feature_auc",
    "spiegelhalter_test",
    "traffic_light",
    "vasicek_binomial_test",
    "vasicek_default_sf",
    "woe_table",
]
