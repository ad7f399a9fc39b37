"""Fairness on the real German data: observed ratios from the data set's README, fairlearn cross-checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from workbench.fairness import assess_attribute, assess_fairness, fairness_findings, outcome_rates
from workbench.fairness._assessment import _statistics


def test_observed_disparate_impact_matches_the_readme(german_data):
    good = (german_data.frame["credit_risk"] == "good").to_numpy()
    sex = outcome_rates(good, german_data.frame["sex"], "male").set_index("group")
    assert round(sex.loc["female", "good_rate"], 3) == 0.648 and sex.loc["female", "count"] == 310
    assert round(sex.loc["female", "ratio_to_reference"], 3) == 0.897
    age = outcome_rates(good, german_data.frame["age_group"], ">=25").set_index("group")
    assert round(age.loc["<25", "ratio_to_reference"], 3) == 0.821 and age.loc["<25", "count"] == 149


def test_numpy_statistics_equal_fairlearn():
    rng = np.random.default_rng(11)
    groups = pd.Series(rng.choice(["a", "b", "c"], 500))
    y_good = rng.integers(0, 2, 500)
    approved = rng.integers(0, 2, 500)
    codes = groups.map({"a": 0, "b": 1, "c": 2}).to_numpy()
    ours = _statistics(y_good, approved, codes, 3, 0)
    assert ours["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_good, approved, sensitive_features=groups)
    )
    assert ours["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y_good, approved, sensitive_features=groups)
    )
    rates = pd.Series(approved).groupby(groups).mean()
    assert ours["disparate_impact"] == pytest.approx(min(rates["b"], rates["c"]) / rates["a"])


def test_assessment_on_the_german_model(german_context):
    report = assess_fairness(german_context, n_boot=200)
    names = [a.attribute for a in report.attributes]
    assert names == ["sex", "age_group", "sex & age_group"]
    sex = report.attribute("sex")
    approved = german_context.p_val < german_context.spec.decision.cutoff
    groups = german_context.groups()["sex"]
    rates = pd.Series(approved).groupby(groups.to_numpy()).mean()
    assert sex.disparate_impact == pytest.approx(rates["female"] / rates["male"])
    low, high = sex.disparate_impact_ci
    assert low <= sex.disparate_impact <= high
    assert len(report.proxies) == 2 and report.proxies["proxy_auc"].between(0.4, 1.0).all()


def test_findings_by_severity():
    rng = np.random.default_rng(0)
    groups = pd.Series(["ref"] * 400 + ["other"] * 400)
    y = rng.integers(0, 2, 800)
    declined = np.r_[np.zeros(400, dtype=int), (rng.uniform(size=400) < 0.6).astype(int)]  # other: ~40% approved
    item = assess_attribute("group", y, declined, groups, "ref", n_boot=100)
    assert item.disparate_impact < 0.5

    class Report:
        attributes = [item]
        proxies = pd.DataFrame(columns=["attribute", "group", "proxy_auc", "top_proxies"])
        floor = 0.8

    findings = fairness_findings(Report())
    assert [f.severity for f in findings] == ["high"]
    assert "breaches the four-fifths floor" in findings[0].title
