"""What a validation test returns, and the findings a failed or doubtful test raises."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

Outcome = Literal["pass", "warn", "fail"]
Severity = Literal["high", "medium", "low"]


def figure_png(figure) -> bytes:
    """Render a matplotlib figure to PNG bytes and release it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def table_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready records (NaN becomes null)."""
    clean = table.replace({np.nan: None})
    return [_plain(row) for row in clean.to_dict(orient="records")]


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
            "values": _plain(self.values),
            "tables": {name: table_records(t) for name, t in self.tables.items()},
            "figures": sorted(self.figures),
        }
        if with_figures:
            out["figure_data"] = {k: base64.b64encode(v).decode("ascii") for k, v in self.figures.items()}
        return out


@dataclass
class Finding:
    """An issue the validator records against a version, with severity and remediation."""

    finding_id: str
    source: str
    severity: Severity
    title: str
    detail: str
    remediation: str
    status: Literal["open", "closed"] = "open"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def finding_from(result: TestResult, remediation: str) -> Finding | None:
    """A failed test raises a finding at the test's severity; a warning raises a low one."""
    if result.outcome == "pass":
        return None
    severity: Severity = result.severity if result.outcome == "fail" else "low"
    return Finding(
        finding_id=f"F-{result.test_id}",
        source=result.test_id,
        severity=severity,
        title=f"{result.title}: {result.outcome}",
        detail=result.reason,
        remediation=remediation,
    )
