"""What a validation, fairness or explainability test returns."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from workbench.findings._figures import plain, table_records
from workbench.findings._finding import Severity

Outcome = Literal["pass", "warn", "fail", "skip"]


@dataclass
class TestResult:
    """One test's outcome: values, tables, figures, and the judgement with its reason."""

    test_id: str
    category: str
    title: str
    outcome: Outcome
    reason: str
    values: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)
    severity: Severity = "medium"

    __test__ = False  # not a pytest test class

    def to_dict(self, with_figures: bool = False) -> dict[str, Any]:
        """JSON-ready form; figures as base64 PNG only when asked (they are logged as files)."""
        out = {
            "test_id": self.test_id,
            "category": self.category,
            "title": self.title,
            "outcome": self.outcome,
            "reason": self.reason,
            "severity": self.severity,
            "values": plain(self.values),
            "tables": {name: table_records(t) for name, t in self.tables.items()},
            "figures": sorted(self.figures),
        }
        if with_figures:
            out["figure_data"] = {k: base64.b64encode(v).decode("ascii") for k, v in self.figures.items()}
        return out
