"""Calibration and PD back-testing tests: Hosmer-Lemeshow, binomial and Jeffreys tests per grade."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import beta, binomtest, chi2


@dataclass(frozen=True)
class HosmerLemeshow:
    """The Hosmer-Lemeshow statistic over groups of similar predicted risk."""

    statistic: float
    dof: int
    p_value: float
    table: pd.DataFrame


def hosmer_lemeshow(y: np.ndarray, p: np.ndarray, groups: int = 10) -> HosmerLemeshow:
    """HL chi-square with ``groups - 2`` degrees of freedom on quantile groups of the prediction."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(p, dtype=float)})
    frame["group"] = pd.qcut(frame["p"].rank(method="first"), groups, labels=False)
    table = (
        frame.groupby("group")
        .agg(n=("y", "size"), observed=("y", "sum"), expected=("p", "sum"), mean_p=("p", "mean"))
        .reset_index()
    )
    n, o, e = table["n"], table["observed"], table["expected"]
    terms = (o - e) ** 2 / (e * (1 - e / n))
    statistic = float(terms.sum())
    dof = groups - 2
    return HosmerLemeshow(statistic, dof, float(chi2.sf(statistic, dof)), table)


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
