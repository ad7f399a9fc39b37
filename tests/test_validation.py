"""The validation registry and its tests on the real German model, cross-checked independently."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import brier_score_loss, roc_auc_score

from workbench.stats import fit_bins, psi
from workbench.validation import CATEGORIES, TESTS, ModelMismatchError, ValidationContext, run_validation


def test_registry_has_at_least_thirty_documented_tests_in_every_category():
    assert len(TESTS) >= 30
    assert {t.category for t in TESTS.values()} == set(CATEGORIES)
    for test in TESTS.values():
        for text in (test.purpose, test.method, test.high_risk_signs, test.limitations):
            assert len(text) > 10, test.test_id


def test_every_test_runs_and_judges(german_validation):
    # every test that judges a credit model; the fraud kind's own tests are not listed for credit
    assert len(german_validation.results) == sum("credit" in t.kinds for t in TESTS.values())
    for result in german_validation.results:
        assert result.outcome in {"pass", "warn", "fail"}
        assert "could not run" not in result.reason, result.reason


def test_results_are_ordered_by_category(german_validation):
    order = [CATEGORIES.index(r.category) for r in german_validation.results]
    assert order == sorted(order)


def test_discrimination_values_match_independent_computations(german_validation, german_context):
    y, p = german_context.y_val, german_context.p_val
    assert german_validation.result("discrimination.auc").values["auc"] == pytest.approx(roc_auc_score(y, p))
    assert german_validation.result("discrimination.gini").values["gini"] == pytest.approx(2 * roc_auc_score(y, p) - 1)
    assert german_validation.result("discrimination.ks").values["ks"] == ks_2samp(p[y == 1], p[y == 0]).statistic
    assert german_validation.result("discrimination.cap_curve").values["accuracy_ratio"] == pytest.approx(
        2 * roc_auc_score(y, p) - 1, abs=2e-3
    )
    assert german_validation.result("calibration.brier").values["brier"] == pytest.approx(brier_score_loss(y, p))


def test_score_psi_matches_manual_bins(german_validation, german_context):
    edges = np.unique(np.quantile(german_context.p_dev, np.linspace(0, 1, 11)[1:-1]))
    dev = np.bincount(np.searchsorted(edges, german_context.p_dev, side="left"), minlength=len(edges) + 1)
    val = np.bincount(np.searchsorted(edges, german_context.p_val, side="left"), minlength=len(edges) + 1)
    e, a = np.where(dev > 0, dev / dev.sum(), 1e-4), np.where(val > 0, val / val.sum(), 1e-4)
    manual = float(np.sum((a - e) * np.log(a / e)))
    assert german_validation.result("stability.score_psi").values["psi"] == pytest.approx(manual, abs=1e-12)
    assert psi(german_context.p_dev, german_context.p_val, bins=fit_bins(german_context.p_dev)) == pytest.approx(manual)


def test_decision_at_cutoff_counts(german_validation, german_context):
    y, p = german_context.y_val, german_context.p_val
    approved = p < german_context.spec.decision.cutoff
    values = german_validation.result("decision.at_cutoff").values
    assert values["approval_rate"] == approved.mean()
    assert values["adverse_rate_approved"] == y[approved].mean()
    cost = (5 * np.sum(approved & (y == 1)) + 1 * np.sum(~approved & (y == 0))) / len(y)
    assert values["expected_cost"] == pytest.approx(cost)
    confusion = german_validation.result("decision.confusion").values
    assert confusion["tp"] + confusion["fn"] == y.sum()


def test_backtesting_grades_cover_the_sample(german_validation, german_context):
    grades = german_validation.result("backtesting.binomial").tables["grades"]
    assert grades["n"].sum() == len(german_context.y_val)
    assert grades["defaults"].sum() == german_context.y_val.sum()
    assert set(grades["grade"]) <= set("ABCDEFG")


def test_a_failed_test_raises_a_finding_at_the_tests_severity(german_validation):
    """The shipped German model (boosted trees) fits its development sample far better than the validation one."""
    result = german_validation.result("overfitting.train_validation_gap")
    assert result.outcome == "fail" and result.values["gap"] > 0.10
    (finding,) = [f for f in german_validation.findings if f.source == "overfitting.train_validation_gap"]
    assert finding.finding_id == "F-overfitting.train_validation_gap" and finding.status == "open"
    assert finding.severity == "medium"  # the test's own severity
    assert finding.title == "Development vs validation AUC gap: fail"
    assert finding.detail == result.reason and "validation AUC 0." in finding.detail
    assert finding.remediation == TESTS["overfitting.train_validation_gap"].remediation
    assert finding not in german_validation.blocking_findings  # open, but only a high finding blocks


def test_a_passing_test_raises_no_finding(german_validation):
    assert german_validation.result("discrimination.auc").outcome == "pass"
    assert "discrimination.auc" not in {f.source for f in german_validation.findings}


def test_where_the_minimum_auc_lies_decides_the_finding(german_context, german_validation):
    """The German model's AUC (about 0.77, 95% CI from about 0.71) against a minimum above it, inside its
    interval and below the interval: a high finding that blocks validation, a low one (a warning), none."""
    auc = german_validation.result("discrimination.auc").values

    def judged(min_auc: float):
        spec = german_context.spec
        thresholds = spec.thresholds.model_copy(update={"min_auc": min_auc})
        context = dataclasses.replace(german_context, spec=spec.model_copy(update={"thresholds": thresholds}))
        return run_validation(context, ["discrimination.auc"])

    failed = judged(round(auc["auc"] + 0.05, 2))
    (finding,) = failed.findings
    assert (failed.results[0].outcome, finding.severity) == ("fail", "high")
    assert finding.title == "AUC with DeLong confidence interval: fail" and finding.source == "discrimination.auc"
    assert finding.detail == failed.results[0].reason and "against a minimum of" in finding.detail
    assert failed.blocking_findings == [finding] and failed.outcome == "findings open"

    warned = judged(round((auc["auc"] + auc["ci_lower"]) / 2, 3))
    (finding,) = warned.findings
    assert (warned.results[0].outcome, finding.severity) == ("warn", "low")
    assert finding.title == "AUC with DeLong confidence interval: warn"
    assert warned.blocking_findings == [] and warned.outcome == "validated"

    passed = judged(round(auc["ci_lower"] - 0.05, 2))
    assert passed.results[0].outcome == "pass" and passed.findings == [] and passed.outcome == "validated"


def test_model_whose_inputs_do_not_match_the_spec_is_refused(german_context, german_spec):
    narrow = german_spec.model_copy(
        update={"features": german_spec.features.model_copy(update={"numeric": german_spec.features.numeric[:-1]})}
    )
    with pytest.raises(ModelMismatchError, match="not in the spec \\['people_liable'\\]"):
        ValidationContext(spec=narrow, model=german_context.model, data=german_context.data, split=german_context.split)


def test_selected_tests_only(german_context):
    report = run_validation(german_context, ["discrimination.auc", "stability.score_psi"])
    assert [r.test_id for r in report.results] == ["discrimination.auc", "stability.score_psi"]
    with pytest.raises(KeyError, match="unknown validation test"):
        run_validation(german_context, ["no.such.test"])


def test_a_broken_test_is_a_finding_not_a_crash(german_context, monkeypatch):
    from workbench.validation import _registry

    test = TESTS["discrimination.auc"]
    broken = _registry.ValidationTest(**{**test.__dict__, "run": lambda ctx, t: 1 / 0})
    monkeypatch.setitem(TESTS, "discrimination.auc", broken)
    report = run_validation(german_context, ["discrimination.auc"])
    assert report.results[0].outcome == "fail"
    assert "could not run: ZeroDivisionError" in report.results[0].reason


def test_vif_equals_statsmodels(german_context):
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    from workbench.validation._soundness_tests import variance_inflation_factors

    design = german_context.benchmark.named_steps["preprocess"].transform(german_context.x_dev)
    ours = variance_inflation_factors(np.asarray(design, dtype=float))
    with_constant = np.column_stack([np.ones(len(design)), design])
    reference = [variance_inflation_factor(with_constant, i + 1) for i in range(design.shape[1])]
    assert np.allclose(ours, reference, rtol=1e-6)
