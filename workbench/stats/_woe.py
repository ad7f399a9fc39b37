"""Weight of evidence and information value per feature: the univariate strength and direction of a driver."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.stats._psi import fit_bins


def woe_table(values: pd.Series, y: np.ndarray, n_bins: int = 10, categorical: bool | None = None) -> pd.DataFrame:
    """Per-bin counts, adverse and good shares, WoE = ln(good share / adverse share) and IV contribution.

    Positive WoE means fewer adverse outcomes than average. Half a count is added to empty cells so the
    logarithm stays finite.
    """
    bins = fit_bins(values, n_bins=n_bins, categorical=categorical)
    y = np.asarray(y, dtype=int)
    codes = bins.codes(values)
    bad_total, good_total = max(int(y.sum()), 1), max(int((1 - y).sum()), 1)
    rows = []
    for i, label in enumerate(bins.labels):
        members = codes == i
        n = int(members.sum())
        if n == 0:
            continue
        bad = int(y[members].sum())
        bad_share = max(bad, 0.5) / bad_total
        good_share = max(n - bad, 0.5) / good_total
        woe = float(np.log(good_share / bad_share))
        rows.append(
            {
                "bin": label,
                "count": n,
                "adverse": bad,
                "adverse_rate": bad / n,
                "woe": woe,
                "iv": (good_share - bad_share) * woe,
            }
        )
    return pd.DataFrame(rows)


def information_value(values: pd.Series, y: np.ndarray, n_bins: int = 10, categorical: bool | None = None) -> float:
    """Total information value of a feature."""
    return float(woe_table(values, y, n_bins, categorical)["iv"].sum())
