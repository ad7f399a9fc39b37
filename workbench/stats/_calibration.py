"""Calibration and PD back-testing tests: Hosmer-Lemeshow, binomial and Jeffreys tests per grade."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import beta, binomtest, chi2

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


def traffic_light(p_value: float, amber: float = 0.05, red: float = 0.01) -> str:
    """Green / amber / red from a back-test p-value."""
    if p_value < red:
        return "red"
    return "amber" if p_value < amber else "green"
