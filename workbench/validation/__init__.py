"""Independent validation: one registry of tests, the context they run on, results, findings and reports.

Importing this package registers every test (each category module adds its own); ``TESTS`` lists them.
"""

from workbench.findings import Finding, TestResult
from workbench.validation import (  # noqa: F401  (registration side effect)
    _backtesting_tests,
    _benchmarking_tests,
    _calibration_tests,
    _data_tests,
    _decision_tests,
    _discrimination_tests,
    _fraud_tests,
    _overfitting_tests,
    _propensity_tests,
    _segments_tests,
    _sensitivity_tests,
    _soundness_tests,
    _stability_tests,
)
from workbench.validation._aml_statistics import (
    AmlStatistic,
    above_below_the_line,
    alert_productivity,
    alert_rate_ratios,
    neighbour_thresholds,
    segment_performance,
    threshold_sensitivity,
    typology_coverage,
)
from workbench.validation._context import (
    ModelMismatchError,
    SplitMismatchError,
    ValidationContext,
    load_context,
)
from workbench.validation._decision_tests import cutoff_sweep, decision_summary
from workbench.validation._interactive import cutoff_explorer, static_cutoff_table, version_picker
from workbench.validation._registry import CATEGORIES, TESTS, ValidationTest, validation_test
from workbench.validation._run import ValidationReport, default_tests, run_validation

__all__ = [
    "CATEGORIES",
    "TESTS",
    "Finding",
    "ModelMismatchError",
    "SplitMismatchError",
    "TestResult",
    "ValidationContext",
    "ValidationReport",
    "ValidationTest",
    "cutoff_explorer",
    "cutoff_sweep",
    "decision_summary",
    "default_tests",
    "load_context",
    "run_validation",
    "static_cutoff_table",
    "validation_test",
    "version_picker",
]

# the AML kind's building blocks
__all__ += [
    "AmlStatistic",
    "above_below_the_line",
    "alert_productivity",
    "alert_rate_ratios",
    "neighbour_thresholds",
    "segment_performance",
    "threshold_sensitivity",
    "typology_coverage",
]
