"""Calibration and PD back-testing tests.

Hosmer-Lemeshow, Spiegelhalter's test and the expected calibration error on individual PDs; the binomial test
(independent and with Vasicek default correlation) and the Jeffreys test on a grade or a portfolio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import beta, binom, binomtest, chi2, norm

#: Which sample the Hosmer-Lemeshow test runs on: the one the PDs were fitted on, or an independent one.
HosmerLemeshowSample = Literal["development", "independent"]


@dataclass(frozen=True)
class HosmerLemeshow:
    """The Hosmer-Lemeshow statistic over groups of similar predicted risk."""

    statistic: float
    dof: int
    p_value: float
    table: pd.DataFrame
    sample: HosmerLemeshowSample = "development"


def risk_groups(p: np.ndarray, groups: int) -> np.ndarray:
    """Equal-mass groups ``0 .. groups - 1`` of the prediction: rank order, sizes differing by at most one.

    Ties are broken by position (a stable sort). Group ``g`` holds ranks ``r`` (1-based) with
    ``e_g < r <= e_(g+1)``, ``e_g = 1 + (n - 1) g / groups``: the quantile groups of ``pd.qcut`` on the ranks,
    computed in integers so no edge falls on a rank by rounding.
    """
    p = np.asarray(p, dtype=float)
    n = len(p)
    if not 1 <= groups <= n:
        raise ValueError(f"cannot form {groups} groups from {n} predictions")
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.argsort(p, kind="stable")] = np.arange(1, n + 1)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    return np.maximum(-((-groups * (ranks - 1)) // (n - 1)) - 1, 0)


def hosmer_lemeshow(
    y: np.ndarray, p: np.ndarray, groups: int = 10, sample: HosmerLemeshowSample = "development"
) -> HosmerLemeshow:
    """HL chi-square on equal-mass groups of the prediction.

    ``sample="development"``: the PDs were fitted on these rows, and the statistic has ``groups - 2`` degrees of
    freedom (two are spent on the fitted intercept and slope). ``sample="independent"``: the PDs are given and the
    rows are new (a validation holdout or a later period), and it has ``groups`` degrees of freedom (Hosmer &
    Lemeshow, Applied Logistic Regression, 3rd ed., 2013; BCBS Working Paper 14, 2005).
    """
    if sample not in ("development", "independent"):
        raise ValueError(f"sample must be 'development' or 'independent', not {sample!r}")
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    group = risk_groups(p, groups)
    n = np.bincount(group, minlength=groups)
    observed = np.bincount(group, weights=y, minlength=groups)
    expected = np.bincount(group, weights=p, minlength=groups)
    statistic = float(np.sum((observed - expected) ** 2 / (expected * (1 - expected / n))))
    dof = groups if sample == "independent" else groups - 2
    table = pd.DataFrame(
        {"group": np.arange(groups), "n": n, "observed": observed, "expected": expected, "mean_p": expected / n}
    )
    return HosmerLemeshow(statistic, dof, float(chi2.sf(statistic, dof)), table, sample)


def binomial_test(defaults: int, n: int, pd_estimate: float) -> float:
    """One-sided p-value that the PD is underestimated (more defaults than a correct PD would give)."""
    if n == 0:
        return 1.0
    return float(binomtest(int(defaults), int(n), float(pd_estimate), alternative="greater").pvalue)


def jeffreys_test(defaults: int, n: int, pd_estimate: float) -> float:
    """Jeffreys test p-value (ECB TRIM): the Beta(d + 1/2, n - d + 1/2) posterior's CDF at the PD.

    A small value means the observed default rate is improbably high for the estimated PD.
    """
    return float(beta.cdf(float(pd_estimate), defaults + 0.5, n - defaults + 0.5))


@dataclass(frozen=True)
class PortfolioJeffreys:
    """The Jeffreys test on a whole portfolio: all its customers, all their defaults, their average PD."""

    n: int
    defaults: int
    mean_pd: float
    observed_rate: float
    p_value: float


def jeffreys_portfolio_test(y: np.ndarray, p: np.ndarray) -> PortfolioJeffreys:
    """Portfolio-level Jeffreys test (ECB validation reporting instructions, PD back-testing).

    ``N`` customers of whom ``D`` defaulted; the PD of the portfolio is the arithmetic mean of the customers' PDs.
    The p-value is the CDF of Beta(D + 1/2, N - D + 1/2) (the posterior under the Jeffreys prior) at that PD; a
    small value means the PD is underestimated.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if len(y) == 0:
        raise ValueError("the Jeffreys test needs at least one customer")
    n, defaults, mean_pd = len(y), int(y.sum()), float(p.mean())
    return PortfolioJeffreys(n, defaults, mean_pd, defaults / n, jeffreys_test(defaults, n, mean_pd))


@dataclass(frozen=True)
class VasicekBinomial:
    """The binomial test of a grade's default count with defaults correlated through one systematic factor."""

    defaults: int
    n: int
    pd_estimate: float
    asset_correlation: float
    p_value: float
    confidence: float
    critical_defaults: int
    critical_rate_large_portfolio: float


def _conditional_pd(z: np.ndarray | float, pd_estimate: float, rho: float) -> np.ndarray:
    """PD given the systematic factor ``z`` in the one-factor model: Phi((Phi^-1(PD) - sqrt(rho) z) / sqrt(1 - rho))."""
    return norm.cdf((norm.ppf(pd_estimate) - np.sqrt(rho) * np.asarray(z)) / np.sqrt(1.0 - rho))


#: Gauss-Legendre rule used on each piece of the factor axis [-12, 12]. The pieces break at every integer (for
#: the normal density) and ever closer around the factor value at which the conditional default rate equals the
#: tested one: the integrand steps down there, as sharply as a binomial standard deviation of the rate in z.
_LEGENDRE = np.polynomial.legendre.leggauss(24)
_FACTOR_GRID = np.arange(-12.0, 13.0)
_BREAKS = np.array([0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3])


def vasicek_default_sf(k: int, n: int, pd_estimate: float, rho: float) -> float:
    """P(D >= k) for ``n`` obligors of PD ``pd_estimate`` and asset correlation ``rho`` (Vasicek one-factor model).

    Given the factor Z ~ N(0, 1), defaults are independent with the conditional PD, so D is a binomial mixture:
    P(D >= k) = integral of P(Bin(n, p(z)) >= k) phi(z) dz over z in [-12, 12], by composite Gauss-Legendre
    quadrature on pieces that close in on the factor value where p(z) = k / n.
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if rho == 0.0:
        return float(binom.sf(k - 1, n, pd_estimate))
    rate = min(max(k / n, 1e-300), 1 - 1e-16)
    centre = (norm.ppf(pd_estimate) - np.sqrt(1 - rho) * norm.ppf(rate)) / np.sqrt(rho)
    edges = np.unique(np.clip(np.r_[centre - _BREAKS, centre + _BREAKS, _FACTOR_GRID], -12.0, 12.0))
    low, high = edges[:-1, None], edges[1:, None]
    nodes, weights = _LEGENDRE
    z = (low + high) / 2 + (high - low) / 2 * nodes
    integrand = binom.sf(k - 1, n, _conditional_pd(z, pd_estimate, rho)) * norm.pdf(z)
    return float(min(max(np.sum((high - low) / 2 * weights * integrand), 0.0), 1.0))


def vasicek_binomial_test(
    defaults: int, n: int, pd_estimate: float, rho: float, confidence: float = 0.99
) -> VasicekBinomial:
    """One-sided binomial test of a default count when defaults are correlated (Vasicek one-factor model).

    p-value = P(D >= d) under the binomial mixture of :func:`vasicek_default_sf` (BCBS Working Paper 14, the
    binomial test with default correlation; Tasche 2003, A traffic lights approach to PD validation). The critical
    number of defaults is the least ``k`` with P(D >= k) <= 1 - confidence (reject at d >= k); for a large
    portfolio the default rate has the Vasicek distribution, whose ``confidence`` quantile is
    Phi((Phi^-1(PD) + sqrt(rho) Phi^-1(confidence)) / sqrt(1 - rho)) (the Basel IRB formula's term). With
    ``rho = 0`` this is the exact binomial test.
    """
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"asset correlation must lie in [0, 1), got {rho}")
    if not 0.0 < pd_estimate < 1.0:
        raise ValueError(f"the PD must lie strictly between 0 and 1, got {pd_estimate}")
    defaults, n = int(defaults), int(n)
    large_portfolio = float(
        norm.cdf((norm.ppf(pd_estimate) + np.sqrt(rho) * norm.ppf(confidence)) / np.sqrt(1.0 - rho))
    )
    if n == 0:
        return VasicekBinomial(0, 0, pd_estimate, rho, 1.0, confidence, 1, large_portfolio)
    alpha = 1.0 - confidence
    low, high = 0, n + 1  # P(D >= 0) = 1 > alpha and P(D >= n + 1) = 0 <= alpha
    while high - low > 1:
        middle = (low + high) // 2
        if vasicek_default_sf(middle, n, pd_estimate, rho) <= alpha:
            high = middle
        else:
            low = middle
    return VasicekBinomial(
        defaults,
        n,
        float(pd_estimate),
        float(rho),
        vasicek_default_sf(defaults, n, pd_estimate, rho),
        confidence,
        high,
        large_portfolio,
    )


@dataclass(frozen=True)
class Spiegelhalter:
    """Spiegelhalter's test of calibration: the Brier score against its distribution under calibrated PDs."""

    brier: float
    expected_brier: float
    std_error: float
    z: float
    p_value: float


def spiegelhalter_test(y: np.ndarray, p: np.ndarray) -> Spiegelhalter:
    """Spiegelhalter's z test (Spiegelhalter 1986, Statistics in Medicine 5, 421-433), two-sided.

    Brier score B = mean (y - p)^2. If every p_i is the true probability, E[B] = mean p(1 - p) and
    Var[B] = sum (1 - 2p)^2 p(1 - p) / n^2, so z = (B - E[B]) / sqrt(Var[B]) is approximately standard normal;
    equivalently z = sum (y - p)(1 - 2p) / sqrt(sum (1 - 2p)^2 p(1 - p)). p-value = 2 (1 - Phi(|z|)).
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    n = len(y)
    variance = float(np.sum((1 - 2 * p) ** 2 * p * (1 - p))) / n**2
    if n == 0 or variance == 0.0:
        raise ValueError("Spiegelhalter's test needs predictions other than 0, 1/2 and 1")
    brier = float(np.mean((y - p) ** 2))
    expected = float(np.mean(p * (1 - p)))
    z = (brier - expected) / np.sqrt(variance)
    return Spiegelhalter(brier, expected, float(np.sqrt(variance)), float(z), float(2 * norm.sf(abs(z))))


@dataclass(frozen=True)
class CalibrationError:
    """Expected calibration error over bins of the prediction, with its bins and its null distribution."""

    ece: float
    bins: int
    strategy: Literal["quantile", "uniform"]
    table: pd.DataFrame
    p_value: float
    expected_under_calibration: float


def expected_calibration_error(
    y: np.ndarray,
    p: np.ndarray,
    bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
    resamples: int = 0,
    seed: int = 0,
) -> CalibrationError:
    """ECE = sum over bins of (n_b / n) |observed rate_b - mean PD_b| (Naeini et al. 2015; Guo et al. 2017).

    ``strategy="quantile"``: equal-mass bins (rank order, sizes differing by at most one, as the Hosmer-Lemeshow
    groups); ``"uniform"``: equal-width bins ((m - 1)/M, m/M], the first closed, as scikit-learn's
    ``calibration_curve``. Empty bins count zero.

    A calibrated model has a positive ECE on a finite sample, so with ``resamples > 0`` outcomes are redrawn from
    the PDs themselves (consistency resampling, Broecker & Smith 2007; seeded): ``p_value`` is the share of
    redrawn ECEs at or above the observed one ((1 + count) / (1 + resamples)), ``expected_under_calibration``
    their mean. Without resampling both are NaN.
    """
    if strategy not in ("quantile", "uniform"):
        raise ValueError(f"strategy must be 'quantile' or 'uniform', not {strategy!r}")
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    n = len(p)
    if strategy == "quantile":
        index = risk_groups(p, bins)
    else:
        index = np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], p, side="left")
    one_hot = np.zeros((n, bins))
    one_hot[np.arange(n), index] = 1.0
    counts = one_hot.sum(axis=0)
    predicted = p @ one_hot

    def ece_of(outcomes: np.ndarray) -> np.ndarray:
        return np.abs(outcomes @ one_hot - predicted).sum(axis=-1) / n

    observed = y @ one_hot
    ece = float(ece_of(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "bin": np.arange(bins),
                "n": counts.astype(int),
                "mean_predicted": predicted / counts,
                "observed_rate": observed / counts,
            }
        )
    table["gap"] = table["observed_rate"] - table["mean_predicted"]
    p_value = expected = float("nan")
    if resamples > 0:
        rng = np.random.default_rng(seed)
        chunk = max(1, 2_000_000 // n)  # redrawn samples per batch: a few million draws at a time
        sizes = [min(chunk, resamples - start) for start in range(0, resamples, chunk)]
        null = np.concatenate([ece_of((rng.uniform(size=(m, n)) < p).astype(float)) for m in sizes])
        p_value = float((1 + np.sum(null >= ece - 1e-12)) / (1 + resamples))
        expected = float(null.mean())
    return CalibrationError(ece, bins, strategy, table, p_value, expected)


def traffic_light(p_value: float, amber: float = 0.05, red: float = 0.01) -> str:
    """Green / amber / red from a back-test p-value."""
    if p_value < red:
        return "red"
    return "amber" if p_value < amber else "green"
