"""Statistics against independent computations and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.stats import beta, binomtest, chi2, ks_2samp
from sklearn.metrics import roc_auc_score

from workbench.stats import (
    Bins,
    binomial_test,
    delong_auc,
    delong_test,
    fit_bins,
    hosmer_lemeshow,
    information_value,
    jeffreys_test,
    ks_statistic,
    psi,
    psi_from_counts,
    traffic_light,
    woe_table,
)


def test_psi_on_hand_computed_distributions():
    expected = np.array([25, 25, 25, 25])
    actual = np.array([10, 20, 30, 40])
    e, a = expected / 100, actual / 100
    by_hand = sum((ai - ei) * np.log(ai / ei) for ai, ei in zip(a, e, strict=True))
    assert psi_from_counts(expected, actual) == pytest.approx(by_hand, abs=1e-12)
    assert by_hand == pytest.approx(0.2282, abs=1e-4)
    assert psi_from_counts(expected, expected) == 0.0


def test_psi_with_fixed_bins_and_empty_bin():
    bins = Bins("numeric", edges=(1.0, 2.0, float("inf")))
    reference = np.array([0.5, 1.5, 2.5, 2.5])
    sample = np.array([0.5, 0.5, 2.5, 2.5])
    # shares: reference 1/4, 1/4, 2/4; sample 2/4, 0 -> 1e-4, 2/4 (missing bin empty in both, dropped)
    e = np.array([0.25, 0.25, 0.5])
    a = np.array([0.5, 1e-4, 0.5])
    assert psi(reference, sample, bins=bins) == pytest.approx(float(np.sum((a - e) * np.log(a / e))), abs=1e-12)


def test_bins_codes_missing_and_unseen_levels():
    bins = fit_bins(pd.Series(["a", "b", "a", None]), categorical=True)
    assert bins.labels == ["a", "b", "(other)", "(missing)"]
    assert bins.counts(pd.Series(["a", "c", None, "b"])).tolist() == [1, 1, 1, 1]
    numeric = fit_bins(np.arange(100.0), n_bins=4)
    assert numeric.counts(np.arange(100.0)).tolist() == [25, 25, 25, 25, 0]


def test_ks_equals_scipy(german_data):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    score = y * 0.3 + rng.normal(size=400)
    assert ks_statistic(y, score) == ks_2samp(score[y == 1], score[y == 0]).statistic


def test_delong_auc_matches_sklearn_and_bootstrap():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 600)
    score = y * 0.8 + rng.normal(size=600)
    interval = delong_auc(y, score)
    assert interval.auc == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    boots = []
    for _ in range(400):
        rows = rng.integers(0, 600, 600)
        boots.append(roc_auc_score(y[rows], score[rows]))
    assert interval.std_error == pytest.approx(np.std(boots), rel=0.15)
    assert interval.lower < interval.auc < interval.upper


def test_delong_test_of_identical_and_different_scores():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 800)
    strong = y * 1.2 + rng.normal(size=800)
    weak = y * 0.2 + rng.normal(size=800)
    same = delong_test(y, strong, strong)
    assert same.difference == 0 and same.p_value == 1.0
    different = delong_test(y, strong, weak)
    assert different.difference > 0 and different.p_value < 1e-6


def test_binomial_test_hand_worked():
    # 10 defaults among 100 at PD 5%: P(X >= 10) for Binomial(100, 0.05)
    assert binomial_test(10, 100, 0.05) == pytest.approx(binomtest(10, 100, 0.05, alternative="greater").pvalue)
    exact = sum(math.comb(100, k) * 0.05**k * 0.95 ** (100 - k) for k in range(10, 101))
    assert binomial_test(10, 100, 0.05) == pytest.approx(exact, rel=1e-9)
    assert binomial_test(0, 0, 0.1) == 1.0


def test_jeffreys_test_hand_worked():
    # Beta(10.5, 90.5) CDF at 0.05
    assert jeffreys_test(10, 100, 0.05) == pytest.approx(beta.cdf(0.05, 10.5, 90.5), abs=1e-12)
    density = lambda x: x**9.5 * (1 - x) ** 89.5 / math.exp(math.lgamma(10.5) + math.lgamma(90.5) - math.lgamma(101))  # noqa: E731
    assert jeffreys_test(10, 100, 0.05) == pytest.approx(quad(density, 0, 0.05)[0], rel=1e-7)
    assert jeffreys_test(5, 100, 0.05) > 0.4
    assert traffic_light(0.005) == "red" and traffic_light(0.03) == "amber" and traffic_light(0.2) == "green"


def test_hosmer_lemeshow_against_manual():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.6, 500)
    y = (rng.uniform(size=500) < p).astype(int)
    result = hosmer_lemeshow(y, p, groups=10)
    order = np.argsort(p, kind="mergesort")
    statistic = 0.0
    for chunk in np.array_split(order, 10):
        o, e, n = y[chunk].sum(), p[chunk].sum(), len(chunk)
        statistic += (o - e) ** 2 / (e * (1 - e / n))
    assert result.statistic == pytest.approx(statistic, rel=1e-9)
    assert result.p_value == pytest.approx(chi2.sf(statistic, 8))
    assert result.p_value > 0.01  # well calibrated by construction


def test_woe_and_iv_hand_worked():
    values = pd.Series(["a"] * 50 + ["b"] * 50)
    y = np.array([1] * 10 + [0] * 40 + [1] * 30 + [0] * 20)
    table = woe_table(values, y, categorical=True).set_index("bin")
    # a: bad share 10/40, good share 40/60 -> woe ln((40/60)/(10/40))
    assert table.loc["a", "woe"] == pytest.approx(np.log((40 / 60) / (10 / 40)))
    iv = (40 / 60 - 10 / 40) * np.log((40 / 60) / (10 / 40)) + (20 / 60 - 30 / 40) * np.log((20 / 60) / (30 / 40))
    assert information_value(values, y, categorical=True) == pytest.approx(iv)
