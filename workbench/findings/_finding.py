"""Findings: the issues a validator records against a version, and the rule that turns a result into one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from workbench.findings._result import TestResult

Severity = Literal["high", "medium", "low"]


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
    """A failed test raises a finding at the test's severity; a warning raises a low one; a skipped one none."""
    if result.outcome in ("pass", "skip"):
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
