"""Running the registry's tests on a context and collecting results and findings into one report."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.findings import Finding, TestResult, finding_from
from workbench.kinds import get_kind
from workbench.policy import SEVERITY_ORDER
from workbench.validation._context import ValidationContext
from workbench.validation._registry import CATEGORIES, TESTS, ValidationTest


@dataclass
class ValidationReport:
    """All test results for one version, the findings they raise, and the status they allow."""

    name: str
    version: int
    results: list[TestResult]
    findings: list[Finding] = field(default_factory=list)

    def result(self, test_id: str) -> TestResult:
        """The result of one test."""
        return next(r for r in self.results if r.test_id == test_id)

    def summary(self) -> pd.DataFrame:
        """One row per test: category, id, title, outcome, reason."""
        return pd.DataFrame(
            [
                {"category": r.category, "test": r.test_id, "title": r.title, "outcome": r.outcome, "reason": r.reason}
                for r in self.results
            ]
        )

    def counts(self) -> dict[str, int]:
        """How many tests passed, warned and failed."""
        counts = {o: sum(r.outcome == o for r in self.results) for o in ("pass", "warn", "fail")}
        skipped = sum(r.outcome == "skip" for r in self.results)
        return counts | ({"skip": skipped} if skipped else {})

    @property
    def blocking_findings(self) -> list[Finding]:
        """Open high-severity findings: the version cannot be validated while any remains."""
        return [f for f in self.findings if f.status == "open" and f.severity == "high"]

    @property
    def outcome(self) -> str:
        """'validated' when no blocking finding is open, else 'findings open'."""
        return "validated" if not self.blocking_findings else "findings open"

    def findings_table(self) -> pd.DataFrame:
        """Findings, most severe first."""
        rows = sorted((f.to_dict() for f in self.findings), key=lambda f: SEVERITY_ORDER[f["severity"]])
        return pd.DataFrame(
            rows, columns=["finding_id", "severity", "title", "detail", "remediation", "status", "source"]
        )

    def headline(self) -> dict[str, float | None]:
        """The headline figures the tests that ran declare in the registry (name -> value)."""
        out: dict[str, float | None] = {}
        for result in self.results:
            for name, key in TESTS[result.test_id].headline if result.test_id in TESTS else ():
                value = result.values.get(key)
                out[name] = float(value) if isinstance(value, int | float) else None
        return out

    def figures(self) -> dict[str, bytes]:
        """Every result's figures, named ``<test id>.<figure>``."""
        return {f"{r.test_id}.{name}": png for r in self.results for name, png in r.figures.items()}

    def metrics(self) -> dict[str, float | None]:
        """What is logged as MLflow metrics of the validation run: the headline figures and the test counts."""
        return self.headline() | {f"tests_{k}": v for k, v in self.counts().items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as logged to the version (figures are logged as PNG files beside it)."""
        return {
            "model": self.name,
            "version": self.version,
            "outcome": self.outcome,
            "counts": self.counts(),
            "headline": self.headline(),
            "results": [r.to_dict() for r in self.results],
            "findings": [f.to_dict() for f in self.findings],
        }

    def evidence(self) -> dict[str, Any]:
        """The validation evidence document: :meth:`to_dict` plus the catalogue of every registered test.

        The catalogue travels with the evidence so a document built later describes the tests as they were
        when this validation ran.
        """
        documented = ("category", "title", "purpose", "method", "high_risk_signs", "limitations", "thresholds")
        catalogue = {
            t.test_id: {key: getattr(t, key) for key in documented} | {"severity": t.severity} for t in TESTS.values()
        }
        return self.to_dict() | {"tests": catalogue}


def _safe_run(test: ValidationTest, context: ValidationContext) -> TestResult:
    reason = test.skip_reason(getattr(context.spec, "kind", "credit"))
    if reason is not None:  # a test of another model kind skips itself, saying why
        return TestResult(test.test_id, test.category, test.title, "skip", reason, severity=test.severity)
    try:
        return test(context)
    except Exception as error:  # a broken test is itself a finding, never a crashed suite
        last = traceback.extract_tb(error.__traceback__)[-1]
        return TestResult(
            test.test_id,
            test.category,
            test.title,
            "fail",
            f"the test could not run: {type(error).__name__}: {error} ({last.name}:{last.lineno})",
            severity="medium",
        )


def default_tests(kind: str) -> list[str]:
    """The tests a version of this kind runs, in category order.

    Every test that judges the kind, and the tests of the kinds it lists as its baseline (``lists_skipped``:
    the credit suite for fraud and propensity), which skip themselves saying why they do not apply.
    """
    declared = get_kind(kind)
    baseline = [get_kind(other) for other in declared.lists_skipped]
    chosen = [t for t in TESTS if declared.judges(t) or any(other.judges(t) for other in baseline)]
    return sorted(chosen, key=lambda t: CATEGORIES.index(TESTS[t].category))


def run_validation(
    context: ValidationContext,
    test_ids: Iterable[str] | None = None,
    on_result: Callable[[TestResult], None] | None = None,
) -> ValidationReport:
    """Run the selected tests (default: all, in registry order) and raise a finding for each non-pass."""
    selected = list(test_ids) if test_ids is not None else default_tests(getattr(context.spec, "kind", "credit"))
    unknown = [t for t in selected if t not in TESTS]
    if unknown:
        raise KeyError(f"unknown validation test(s): {', '.join(unknown)}")
    results, findings = [], []
    for test_id in selected:
        test = TESTS[test_id]
        outcome = _safe_run(test, context)
        results.append(outcome)
        finding = finding_from(outcome, test.remediation)
        if finding is not None:
            findings.append(finding)
        if on_result is not None:
            on_result(outcome)
    return ValidationReport(context.name, context.version, results, findings)
