"""PD calibration statistics against independent computations, hand-worked cases and published tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta, binom, binomtest, chi2, multivariate_normal, norm
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from workbench.stats import (
    expected_calibration_error,
    hosmer_lemeshow,
    jeffreys_portfolio_test,
    jeffreys_test,
    spiegelhalter_test,
    vasicek_binomial_test,
    vasicek_default_sf,
)
from workbench.stats._calibration import risk_groups


def test_hosmer_lemeshow_degrees_of_freedom_follow_the_sample():
    rng = np.random.default_rng(11)
    p = rng.uniform(0.05, 0.6, 400)
    y = (rng.uniform(size=400) < p).astype(int)
    development = hosmer_lemeshow(y, p, groups=10)
    independent = hosmer_lemeshow(y, p, groups=10, sample="independent")
    assert development.statistic == independent.statistic
    assert (development.dof, development.sample) == (8, "development")
    assert (independent.dof, independent.sample) == (10, "independent")
    assert independent.p_value == pytest.approx(chi2.sf(independent.statistic, 10), rel=1e-12)
    assert independent.p_value > development.p_value  # same statistic, more degrees of freedom
    with pytest.raises(ValueError, match="sample must be"):
        hosmer_lemeshow(y, p, sample="holdout")


def test_hosmer_lemeshow_hand_worked():
    # two groups of two: p = (0.1, 0.2 | 0.6, 0.7), y = (0, 1 | 1, 1)
    # group 1: O = 1, E = 0.3, n = 2 -> (1 - 0.3)^2 / (0.3 * (1 - 0.15)) = 0.49 / 0.255
    # group 2: O = 2, E = 1.3, n = 2 -> (2 - 1.3)^2 / (1.3 * (1 - 0.65)) = 0.49 / 0.455
    result = hosmer_lemeshow(np.array([1, 0, 1, 1]), np.array([0.2, 0.1, 0.7, 0.6]), groups=2, sample="independent")
    assert result.statistic == pytest.approx(0.49 / 0.255 + 0.49 / 0.455, rel=1e-12)
    assert result.table["observed"].tolist() == [1.0, 2.0]
    assert result.table["expected"].tolist() == pytest.approx([0.3, 1.3])
    assert result.dof == 2


@pytest.mark.parametrize("n", [300, 500, 1000])
def test_risk_groups_are_the_quantile_groups_of_the_ranks(n):
    p = np.random.default_rng(n).uniform(size=n)
    by_pandas = pd.qcut(pd.Series(p).rank(method="first"), 10, labels=False).to_numpy()
    assert (risk_groups(p, 10) == by_pandas).all()


def test_risk_groups_sizes_differ_by_at_most_one_and_follow_the_score():
    for n in (91, 171, 305, 999):
        p = np.random.default_rng(n).uniform(size=n)
        group = risk_groups(p, 10)
        sizes = np.bincount(group)
        assert len(sizes) == 10 and sizes.max() - sizes.min() <= 1 and sizes.sum() == n
        order = np.argsort(p)
        assert (np.diff(group[order]) >= 0).all()


def test_hosmer_lemeshow_size_on_an_independent_sample():
    """With the true PDs, the out-of-sample form rejects at its nominal 5%; the in-sample form about twice as often.

    2,000 validation samples of 300 rows, PDs drawn from Beta(1.5, 6) (mean 20%, right-skewed like a retail
    book), outcomes drawn from those PDs; ten groups.
    """
    replications, rows = 2000, 300
    rng = np.random.default_rng(20240611)
    pds = rng.beta(1.5, 6.0, size=(replications, rows))
    outcomes = (rng.uniform(size=(replications, rows)) < pds).astype(int)
    independent, development = np.empty(replications), np.empty(replications)
    for i in range(replications):
        result = hosmer_lemeshow(outcomes[i], pds[i], groups=10, sample="independent")
        independent[i] = result.p_value
        development[i] = chi2.sf(result.statistic, 8)
    size_independent = float(np.mean(independent < 0.05))
    size_development = float(np.mean(development < 0.05))
    assert 0.03 <= size_independent <= 0.07, size_independent
    assert size_development > 0.08, size_development


# --- portfolio Jeffreys test -----------------------------------------------------------------------------------


def test_jeffreys_portfolio_hand_worked():
    # one customer, no default, PD 0.5: Beta(1/2, 3/2), whose CDF is (2/pi)(arcsin(sqrt x) + sqrt(x(1 - x)))
    # (substitute t = sin^2 theta); at x = 1/2: (2/pi)(pi/4 + 1/2) = 1/2 + 1/pi = 0.8183
    one = jeffreys_portfolio_test(np.array([0]), np.array([0.5]))
    assert one.p_value == pytest.approx(0.5 + 1 / math.pi, rel=1e-12)
    # four customers, two defaults, average PD (0.3 + 0.7 + 0.4 + 0.6) / 4 = 0.5: Beta(2.5, 2.5) is symmetric
    # about 1/2, so its CDF there is exactly 1/2
    four = jeffreys_portfolio_test(np.array([1, 0, 1, 0]), np.array([0.3, 0.7, 0.4, 0.6]))
    assert (four.n, four.defaults, four.mean_pd, four.observed_rate) == (4, 2, pytest.approx(0.5), 0.5)
    assert four.p_value == pytest.approx(0.5, abs=1e-12)


def test_jeffreys_portfolio_published_example():
    # deepcreditrisk.com (Jeffreys test chapter): n = 6, d = 2, PD 0.0367 -> posterior CDF 0.0044
    result = jeffreys_portfolio_test(np.array([1, 1, 0, 0, 0, 0]), np.full(6, 0.0367))
    assert result.p_value == pytest.approx(0.0044, abs=5e-5)


def test_jeffreys_portfolio_pools_the_grades_rather_than_combining_their_tests():
    rng = np.random.default_rng(4)
    p = rng.beta(1.5, 6.0, 800)
    y = (rng.uniform(size=800) < p * 1.2).astype(int)  # PDs 20% too low
    result = jeffreys_portfolio_test(y, p)
    assert result.p_value == pytest.approx(beta.cdf(p.mean(), y.sum() + 0.5, 800 - y.sum() + 0.5), rel=1e-12)
    assert result.p_value == jeffreys_test(int(y.sum()), 800, float(p.mean()))
    assert result.p_value < 0.01  # an underestimated portfolio PD is caught


# --- binomial test with Vasicek default correlation -------------------------------------------------------------


def _bivariate_default(pd_estimate: float, rho: float) -> float:
    """P(two given obligors both default): bivariate normal CDF at (Phi^-1(PD), Phi^-1(PD)), correlation rho."""
    c = norm.ppf(pd_estimate)
    return float(multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]]).cdf([c, c]))


@pytest.mark.parametrize(("pd_estimate", "rho"), [(0.02, 0.04), (0.1, 0.12), (0.3, 0.24)])
def test_vasicek_two_obligors_against_the_bivariate_normal(pd_estimate, rho):
    both = _bivariate_default(pd_estimate, rho)
    assert vasicek_default_sf(2, 2, pd_estimate, rho) == pytest.approx(both, rel=1e-8)
    # P(D >= 1) = P(A or B) = 2 PD - P(A and B)
    assert vasicek_default_sf(1, 2, pd_estimate, rho) == pytest.approx(2 * pd_estimate - both, rel=1e-8)
    assert vasicek_default_sf(1, 1, pd_estimate, rho) == pytest.approx(pd_estimate, rel=1e-9)


def test_vasicek_moments_of_the_default_count():
    # E[D] = sum_k P(D >= k) = n PD; E[D^2] = sum_k (2k - 1) P(D >= k) = n PD + n (n - 1) P(two default)
    n, pd_estimate, rho = 60, 0.05, 0.12
    sf = np.array([vasicek_default_sf(k, n, pd_estimate, rho) for k in range(1, n + 1)])
    assert sf.sum() == pytest.approx(n * pd_estimate, rel=1e-8)
    second = np.sum((2 * np.arange(1, n + 1) - 1) * sf)
    assert second == pytest.approx(n * pd_estimate + n * (n - 1) * _bivariate_default(pd_estimate, rho), rel=1e-7)


def test_vasicek_without_correlation_is_the_binomial_test():
    assert vasicek_binomial_test(12, 100, 0.05, 0.0).p_value == pytest.approx(
        binomtest(12, 100, 0.05, alternative="greater").pvalue, rel=1e-12
    )
    assert vasicek_default_sf(12, 100, 0.05, 1e-10) == pytest.approx(binom.sf(11, 100, 0.05), rel=1e-5)
    # critical count without correlation: the least k with P(Bin(100, 0.05) >= k) <= 1%
    independent = vasicek_binomial_test(0, 100, 0.05, 0.0, confidence=0.99).critical_defaults
    assert binom.sf(independent - 1, 100, 0.05) <= 0.01 < binom.sf(independent - 2, 100, 0.05)


def test_vasicek_against_simulation_of_the_one_factor_model():
    n, pd_estimate, rho, draws = 50, 0.05, 0.12, 200_000
    rng = np.random.default_rng(7)
    factor = rng.standard_normal((draws, 1))
    assets = np.sqrt(rho) * factor + np.sqrt(1 - rho) * rng.standard_normal((draws, n))
    defaults = (assets < norm.ppf(pd_estimate)).sum(axis=1)
    for k in (3, 6, 10):
        simulated = float(np.mean(defaults >= k))
        error = math.sqrt(simulated * (1 - simulated) / draws)
        assert abs(vasicek_default_sf(k, n, pd_estimate, rho) - simulated) < 4 * error, k


def test_vasicek_large_portfolio_limit():
    # the default rate DR of an infinitely granular portfolio (Vasicek):
    # P(DR >= x) = 1 - Phi((sqrt(1 - rho) Phi^-1(x) - Phi^-1(PD)) / sqrt(rho))
    n, pd_estimate, rho, rate = 1_000_000, 0.1, 0.12, 0.15
    limit = 1 - norm.cdf((math.sqrt(1 - rho) * norm.ppf(rate) - norm.ppf(pd_estimate)) / math.sqrt(rho))
    assert vasicek_default_sf(int(rate * n), n, pd_estimate, rho) == pytest.approx(limit, abs=2e-4)


@pytest.mark.parametrize(
    ("rho", "pd_estimate", "risk_weight"),
    [
        (0.15, 0.0010, 0.1069),  # residential mortgages, PD 0.10%
        (0.15, 0.0100, 0.5640),  # residential mortgages, PD 1.00%
        (0.04, 0.0010, 0.0271),  # qualifying revolving retail, PD 0.10%
        (0.04, 0.0100, 0.1722),  # qualifying revolving retail, PD 1.00%
    ],
)
def test_vasicek_quantile_reproduces_the_basel_ii_risk_weights(rho, pd_estimate, risk_weight):
    # Basel II (June 2006), Annex 5, illustrative IRB risk weights, LGD 45%: retail RW = 12.5 LGD (DR_99.9% - PD)
    # with DR_99.9% = N[(1 - R)^-0.5 G(PD) + (R / (1 - R))^0.5 G(0.999)], the Vasicek quantile of the default rate
    result = vasicek_binomial_test(0, 1, pd_estimate, rho, confidence=0.999)
    assert 12.5 * 0.45 * (result.critical_rate_large_portfolio - pd_estimate) == pytest.approx(risk_weight, abs=6e-5)


def test_vasicek_critical_count_and_p_value():
    result = vasicek_binomial_test(12, 100, 0.05, 0.12, confidence=0.99)
    k = result.critical_defaults
    assert vasicek_default_sf(k, 100, 0.05, 0.12) <= 0.01 < vasicek_default_sf(k - 1, 100, 0.05, 0.12)
    independent = vasicek_binomial_test(12, 100, 0.05, 0.0, confidence=0.99)
    assert k > independent.critical_defaults  # correlation fattens the tail: more defaults needed to reject
    assert result.p_value > independent.p_value
    assert result.p_value == vasicek_default_sf(12, 100, 0.05, 0.12)
    with pytest.raises(ValueError, match="asset correlation"):
        vasicek_binomial_test(1, 10, 0.1, 1.0)


# --- Spiegelhalter's test --------------------------------------------------------------------------------------


def test_spiegelhalter_hand_worked():
    # y = (1, 0), p = (0.2, 0.4)
    # Brier B = ((1 - 0.2)^2 + (0 - 0.4)^2) / 2 = (0.64 + 0.16) / 2 = 0.40
    # E[B] = (0.2 * 0.8 + 0.4 * 0.6) / 2 = (0.16 + 0.24) / 2 = 0.20
    # Var[B] = ((1 - 0.4)^2 * 0.16 + (1 - 0.8)^2 * 0.24) / 2^2 = (0.0576 + 0.0096) / 4 = 0.0168
    # z = (0.40 - 0.20) / sqrt(0.0168) = 1.5430
    result = spiegelhalter_test(np.array([1, 0]), np.array([0.2, 0.4]))
    assert result.brier == pytest.approx(0.40)
    assert result.expected_brier == pytest.approx(0.20)
    assert result.std_error == pytest.approx(math.sqrt(0.0168))
    assert result.z == pytest.approx(0.2 / math.sqrt(0.0168), rel=1e-12)
    assert result.z == pytest.approx(1.5430, abs=1e-4)
    assert result.p_value == pytest.approx(2 * norm.sf(0.2 / math.sqrt(0.0168)), rel=1e-12)


def test_spiegelhalter_brier_matches_sklearn_and_size_is_nominal():
    rng = np.random.default_rng(8)
    p = rng.beta(1.5, 6.0, size=(2000, 300))
    y = (rng.uniform(size=p.shape) < p).astype(int)
    assert spiegelhalter_test(y[0], p[0]).brier == pytest.approx(brier_score_loss(y[0], p[0]), rel=1e-12)
    p_values = np.array([spiegelhalter_test(y[i], p[i]).p_value for i in range(len(p))])
    assert 0.03 <= np.mean(p_values < 0.05) <= 0.07
    overconfident = spiegelhalter_test(y[0], np.clip(p[0] * 0.5, 0.001, 0.999))
    assert overconfident.z > 3 and overconfident.p_value < 0.01


def test_spiegelhalter_refuses_predictions_without_variance():
    with pytest.raises(ValueError, match="other than 0, 1/2 and 1"):
        spiegelhalter_test(np.array([1, 0]), np.array([0.5, 0.5]))


# --- expected calibration error --------------------------------------------------------------------------------


def test_ece_hand_worked():
    # p = (0.1, 0.2 | 0.7, 0.8), y = (0, 1 | 1, 1), two bins (equal width and equal mass agree here)
    # bin 1: mean p 0.15, observed 1/2 -> |0.5 - 0.15| * 2/4 = 0.175
    # bin 2: mean p 0.75, observed 1   -> |1.0 - 0.75| * 2/4 = 0.125; ECE = 0.300
    y, p = np.array([0, 1, 1, 1]), np.array([0.1, 0.2, 0.7, 0.8])
    for strategy in ("uniform", "quantile"):
        result = expected_calibration_error(y, p, bins=2, strategy=strategy)
        assert result.ece == pytest.approx(0.300, abs=1e-12)
        assert result.table["n"].tolist() == [2, 2]
        assert np.isnan(result.p_value)


def test_ece_equal_width_against_sklearn_calibration_curve():
    rng = np.random.default_rng(9)
    p = rng.beta(1.5, 6.0, 1000)
    y = (rng.uniform(size=1000) < p).astype(int)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    counts = np.histogram(p, bins=np.linspace(0, 1, 11))[0]
    manual = float(np.sum(counts[counts > 0] * np.abs(observed - predicted)) / len(p))
    result = expected_calibration_error(y, p, bins=10, strategy="uniform")
    assert result.ece == pytest.approx(manual, rel=1e-12)
    assert result.table["n"].tolist() == counts.tolist()


def test_ece_equal_mass_against_sorted_thirds():
    rng = np.random.default_rng(10)
    p = rng.uniform(0.05, 0.6, 300)
    y = (rng.uniform(size=300) < p).astype(int)
    manual = 0.0
    for chunk in np.array_split(np.argsort(p, kind="mergesort"), 10):
        manual += len(chunk) / 300 * abs(y[chunk].mean() - p[chunk].mean())
    assert expected_calibration_error(y, p, bins=10).ece == pytest.approx(manual, rel=1e-12)


def test_ece_resampling_matches_the_normal_approximation_and_detects_miscalibration():
    # one bin: ECE = |mean y - mean p|; under calibration sum(y) has variance sum p(1 - p), so
    # E[ECE] ~ sqrt(2 / pi) * sqrt(sum p(1 - p)) / n
    rng = np.random.default_rng(12)
    p = rng.uniform(0.1, 0.3, 2000)
    y = (rng.uniform(size=2000) < p).astype(int)
    result = expected_calibration_error(y, p, bins=1, resamples=4000, seed=1)
    approximation = math.sqrt(2 / math.pi) * math.sqrt(np.sum(p * (1 - p))) / 2000
    assert result.expected_under_calibration == pytest.approx(approximation, rel=0.05)
    assert result.p_value > 0.01
    shifted = expected_calibration_error(y, p * 0.7, bins=10, resamples=999, seed=1)
    assert shifted.p_value == pytest.approx(1 / 1000)
    first, second = (expected_calibration_error(y, p, bins=10, resamples=999, seed=1) for _ in range(2))
    assert first.p_value == second.p_value  # seeded


# --- the registered tests on the German credit model -----------------------------------------------------------

NEW_TESTS = (
    "calibration.hosmer_lemeshow",
    "calibration.spiegelhalter",
    "calibration.ece",
    "backtesting.jeffreys_portfolio",
    "backtesting.binomial_correlated",
)


def test_new_calibration_tests_are_registered_and_documented():
    from workbench.validation import TESTS

    for test_id in NEW_TESTS:
        test = TESTS[test_id]
        assert test.category == test_id.split(".")[0]
        for text in (test.purpose, test.method, test.high_risk_signs, test.limitations, test.remediation):
            assert len(text) > 20, test_id
    assert TESTS["backtesting.binomial_correlated"].thresholds == ("asset_correlation",)
    assert TESTS["calibration.spiegelhalter"].thresholds == ("calibration_p_value",)


def test_new_calibration_tests_on_the_german_model(german_context):
    from workbench.validation import run_validation

    y, p = german_context.y_val, german_context.p_val
    report = run_validation(german_context, list(NEW_TESTS))
    for result in report.results:
        assert result.outcome in {"pass", "warn", "fail"}
        assert "could not run" not in result.reason, result.reason

    hl = report.result("calibration.hosmer_lemeshow").values
    assert (hl["dof"], hl["sample"]) == (10, "independent")
    assert hl["p_value"] == pytest.approx(chi2.sf(hl["statistic"], 10))

    z = report.result("calibration.spiegelhalter").values
    assert z["brier"] == pytest.approx(brier_score_loss(y, p))
    assert z["expected_brier"] == pytest.approx(np.mean(p * (1 - p)))
    assert 0.0 <= z["p_value"] <= 1.0

    ece = report.result("calibration.ece")
    assert 0.0 < ece.values["ece"] < 0.5
    assert 0.0 < ece.values["expected_under_calibration"] < 0.2
    assert 1 / 1001 <= ece.values["p_value"] <= 1.0
    assert ece.tables["bins"]["n"].sum() == len(y)
    assert (ece.values["bins"], ece.values["strategy"]) == (10, "quantile")

    portfolio = report.result("backtesting.jeffreys_portfolio").values
    assert (portfolio["n"], portfolio["defaults"]) == (len(y), int(y.sum()))
    assert portfolio["mean_pd"] == pytest.approx(p.mean())
    assert portfolio["p_value"] == pytest.approx(beta.cdf(p.mean(), y.sum() + 0.5, len(y) - y.sum() + 0.5))

    correlated = report.result("backtesting.binomial_correlated")
    assert correlated.values["asset_correlation"] == german_context.spec.thresholds.asset_correlation == 0.12
    grades = correlated.tables["grades"]
    assert grades["n"].sum() == len(y) and grades["defaults"].sum() == y.sum()
    assert (grades["critical_defaults_99"] >= grades["critical_defaults_95"]).all()
    assert ((grades["correlated_p"] >= 0) & (grades["correlated_p"] <= 1)).all()
    # a grade is red exactly when its default count reaches the critical count at 99%
    assert ((grades["light"] == "red") == (grades["defaults"] >= grades["critical_defaults_99"])).all()
