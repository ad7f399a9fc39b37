"""Population stability: bins fixed on a reference sample, then PSI / CSI of any other sample against them.

Bins are fixed once (at validation time) so that monitoring compares like with like; a sample is reduced to
counts per bin, so very large samples can be processed in chunks and the counts added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Share given to an empty bin so the logarithm stays finite (a common convention in credit-risk practice);
#: bins with any observation keep their share, however small.
EMPTY_BIN_SHARE = 1e-4


@dataclass(frozen=True)
class Bins:
    """Reference bins: numeric upper edges (right-closed, last is +inf) or categorical levels."""

    kind: str
    edges: tuple[float, ...] = ()
    levels: tuple[str, ...] = ()

    @property
    def labels(self) -> list[str]:
        """Human-readable bin names, in bin order (missing values have their own last bin)."""
        if self.kind == "categorical":
            return [*self.levels, "(other)", "(missing)"]
        lower = [-np.inf, *self.edges[:-1]]
        return [f"({lo:.4g}, {hi:.4g}]" for lo, hi in zip(lower, self.edges, strict=True)] + ["(missing)"]

    def codes(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """The bin index of each value; unseen levels go to '(other)', missing values to the last bin."""
        series = pd.Series(values).reset_index(drop=True)
        missing = series.isna().to_numpy()
        last = len(self.labels) - 1
        if self.kind == "categorical":
            index = {level: i for i, level in enumerate(self.levels)}
            mapped = series.astype(str).map(index).fillna(len(self.levels)).to_numpy(dtype=np.int64)
        else:
            numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            mapped = np.searchsorted(np.asarray(self.edges), numbers, side="left").astype(np.int64)
        return np.where(missing, last, mapped)

    def counts(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Counts of ``values`` per bin, missing values in the last bin."""
        return np.bincount(self.codes(values), minlength=len(self.labels)).astype(np.int64)


def fit_bins(reference: pd.Series | np.ndarray, n_bins: int = 10, categorical: bool | None = None) -> Bins:
    """Quantile bins for numbers (ties merged), one bin per level for categories."""
    series = pd.Series(reference)
    if categorical is None:
        categorical = not pd.api.types.is_numeric_dtype(series)
    if categorical:
        levels = tuple(sorted(series.dropna().astype(str).unique()))
        return Bins("categorical", levels=levels)
    numbers = series.dropna().to_numpy(dtype=float)
    quantiles = np.quantile(numbers, np.linspace(0, 1, n_bins + 1)[1:-1]) if len(numbers) else np.array([])
    edges = np.unique(quantiles)
    return Bins("numeric", edges=(*edges.tolist(), float("inf")))


def _shares(counts: np.ndarray, total: float) -> np.ndarray:
    return np.where(counts > 0, counts / total, EMPTY_BIN_SHARE)


def psi_from_counts(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI = sum((a - e) * ln(a / e)) over bins of shares; empty bins get ``EMPTY_BIN_SHARE``."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    keep = (e > 0) | (a > 0)
    e_share = _shares(e[keep], e.sum())
    a_share = _shares(a[keep], a.sum())
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def psi(
    reference: pd.Series | np.ndarray, sample: pd.Series | np.ndarray, n_bins: int = 10, bins: Bins | None = None
) -> float:
    """PSI of ``sample`` against ``reference`` on bins fixed from the reference."""
    bins = bins or fit_bins(reference, n_bins)
    return psi_from_counts(bins.counts(reference), bins.counts(sample))


def psi_table(reference: pd.Series | np.ndarray, sample: pd.Series | np.ndarray, bins: Bins) -> pd.DataFrame:
    """Per-bin shares and contributions to PSI (empty bins on both sides are dropped)."""
    e, a = bins.counts(reference), bins.counts(sample)
    table = pd.DataFrame({"bin": bins.labels, "reference": e, "sample": a})
    table = table[(table["reference"] > 0) | (table["sample"] > 0)].reset_index(drop=True)
    e_share = _shares(table["reference"].to_numpy(float), e.sum())
    a_share = _shares(table["sample"].to_numpy(float), a.sum())
    table["reference_share"] = table["reference"] / e.sum()
    table["sample_share"] = table["sample"] / a.sum()
    table["contribution"] = (a_share - e_share) * np.log(a_share / e_share)
    return table
