"""Test results and the findings they raise, with the figure and table forms evidence is logged in.

Validation, fairness and explainability all report through these types; they sit below all three so that
none of them imports another's private modules.
"""

from workbench.findings._figures import figure_png, new_figure, plain, table_records
from workbench.findings._finding import Finding, Severity, finding_from
from workbench.findings._result import Outcome, TestResult

__all__ = [
    "Finding",
    "Outcome",
    "Severity",
    "TestResult",
    "figure_png",
    "finding_from",
    "new_figure",
    "plain",
    "table_records",
]
