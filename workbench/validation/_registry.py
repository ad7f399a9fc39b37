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
from workbench.kinds import KINDS, get_kind

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
    not_applicable: str = ""

    @property
    def kinds(self) -> tuple[str, ...]:
        """The model kinds that declare this test as one that judges them (``workbench.kinds``)."""
        return tuple(name for name, kind in KINDS.items() if kind.judges(self.test_id))

    def skip_reason(self, kind: str) -> str | None:
        """Why the test does not apply to a model of this kind (None when it applies).

        The kind's own reason when it gives one (why fraud has no PD back-tests), else the test's (what it needs).
        """
        declared = get_kind(kind)
        if declared.judges(self.test_id):
            return None
        reason = declared.skip_reason(self.test_id, self.category) or self.not_applicable
        return f"not applicable to a {kind} model ({', '.join(self.kinds) or 'no kind'} only): {reason}"

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
    not_applicable: str = "",
) -> Callable[[Callable[..., TestResult]], Callable[..., TestResult]]:
    """Register a test function under ``test_id``.

    ``thresholds`` name the spec keys it reads; ``headline`` maps headline figure names to keys of the
    result's ``values``. Which kinds a test judges is declared by the kinds (``workbench.kinds``), not here;
    ``not_applicable`` says what the test needs, the reason it gives when it skips itself for another kind.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")

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
