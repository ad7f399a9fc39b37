"""The one registry of validation tests; notebooks, documents and the CLI all read from it.

Adding a test is adding one decorated function in a category module: it receives the
:class:`ValidationContext` and returns a :class:`TestResult`. A test that supplies a figure for page 1 of the
model document (and for the MLflow run's metrics) declares it in ``headline``: headline name -> the key of
the value in its result; documents and notebooks read headline figures from there, never by test id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.findings import Severity, TestResult

CATEGORIES = (
    "data",
    "discrimination",
    "calibration",
    "backtesting",
    "stability",
    "benchmarking",
    "soundness",
    "sensitivity",
    "overfitting",
    "segments",
    "decision",
)

#: model kinds the registry knows (``spec.kind``)
KINDS = ("credit", "fraud")

#: categories that judge a credit model only, with the reason a test of theirs gives when it skips itself
CREDIT_ONLY: dict[str, str] = {
    "backtesting": "PD back-tests compare predicted default probabilities with observed defaults; a fraud score "
    "is class-weighted (it ranks, it is no probability) and is judged by its alerts within the review budget",
    "calibration": "a class-weighted fraud score ranks transactions and is not a calibrated probability; the fraud "
    "kind is judged by precision and recall at its alert budget instead",
    "decision": "the credit decision (approve or decline at a cut-off with a cost matrix) does not apply; the fraud "
    "kind's decision is judged by decision.alert_budget",
}


@dataclass(frozen=True)
class ValidationTest:
    """A registered test and its documentation, as printed in the validation report."""

    test_id: str
    category: str
    title: str
    purpose: str
    method: str
    high_risk_signs: str
    limitations: str
    thresholds: tuple[str, ...]
    severity: Severity
    remediation: str
    run: Callable[..., TestResult] = field(compare=False, repr=False)
    headline: tuple[tuple[str, str], ...] = ()
    kinds: tuple[str, ...] = KINDS
    not_applicable: str = ""

    def skip_reason(self, kind: str) -> str | None:
        """Why the test does not apply to a model of this kind (None when it applies)."""
        if kind in self.kinds:
            return None
        return f"not applicable to a {kind} model ({', '.join(self.kinds)} only): {self.not_applicable}"

    def __call__(self, context) -> TestResult:
        """Run the test; its result carries the test's own identity and severity."""
        result = self.run(context, self)
        return result


TESTS: dict[str, ValidationTest] = {}


def validation_test(
    test_id: str,
    category: str,
    title: str,
    *,
    purpose: str,
    method: str,
    high_risk_signs: str,
    limitations: str,
    thresholds: tuple[str, ...] = (),
    severity: Severity = "medium",
    remediation: str = "",
    headline: dict[str, str] | None = None,
    kinds: tuple[str, ...] | None = None,
    not_applicable: str = "",
) -> Callable[[Callable[..., TestResult]], Callable[..., TestResult]]:
    """Register a test function under ``test_id``.

    ``thresholds`` name the spec keys it reads; ``headline`` maps headline figure names to keys of the
    result's ``values``. ``kinds`` are the model kinds the test judges (default: every kind, except the
    credit-only categories); for any other kind it skips itself with ``not_applicable`` as the reason.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if kinds is None:
        kinds = ("credit",) if category in CREDIT_ONLY else KINDS
        not_applicable = not_applicable or CREDIT_ONLY.get(category, "")
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown model kind(s) {unknown} for {test_id!r}")

    def decorate(function: Callable[..., TestResult]) -> Callable[..., TestResult]:
        if test_id in TESTS:
            raise ValueError(f"validation test {test_id!r} is registered twice")
        TESTS[test_id] = ValidationTest(
            test_id,
            category,
            title,
            purpose,
            method,
            high_risk_signs,
            limitations,
            thresholds,
            severity,
            remediation or "Investigate and document.",
            function,
            tuple((headline or {}).items()),
            tuple(kinds),
            not_applicable,
        )
        taken = {name for t in TESTS.values() for name, _ in t.headline if t.test_id != test_id}
        clash = taken & set(headline or {})
        if clash:
            raise ValueError(f"headline figure(s) {sorted(clash)} of {test_id!r} are declared by another test")
        return function

    return decorate


def result(test: ValidationTest, outcome: str, reason: str, **parts) -> TestResult:
    """Build a test's result with its registered identity."""
    return TestResult(
        test_id=test.test_id,
        category=test.category,
        title=test.title,
        outcome=outcome,
        reason=reason,
        severity=test.severity,
        **parts,
    )


def judge(
    value: float,
    *,
    fail_below: float | None = None,
    warn_below: float | None = None,
    fail_above: float | None = None,
    warn_above: float | None = None,
) -> str:
    """pass / warn / fail of a value against limits."""
    if (fail_below is not None and value < fail_below) or (fail_above is not None and value > fail_above):
        return "fail"
    if (warn_below is not None and value < warn_below) or (warn_above is not None and value > warn_above):
        return "warn"
    return "pass"
