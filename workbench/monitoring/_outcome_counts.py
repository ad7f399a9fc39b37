"""Outcome performance and group approval rates from counts: the one home of these formulas for every engine.

Both engines reduce labelled decisions to counts per period and **score value** (adverse and favourable
outcomes at each distinct score) and group decisions to counts per period, attribute and group; the measures
are then computed here, once. From the per-score counts the AUC is the Mann-Whitney statistic in integer
arithmetic (one rounding at the end), so it is the same to the last bit whatever engine counted and in
whatever order; it equals ``roc_auc_score`` on the rows (ties count one half). KS is the largest gap between
the two outcome classes' distribution functions at the distinct scores (``ks_2samp``'s statistic), and the
expected bad rate is an exactly rounded sum (``math.fsum``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

#: columns of the per-score outcome counts
OUTCOME_COUNT_COLUMNS = ["period", "score", "positives", "negatives"]
#: columns of the group decision counts
GROUP_COUNT_COLUMNS = ["period", "attribute", "group", "decisions", "favourable"]


def outcome_counts_of(labels: pd.DataFrame) -> pd.DataFrame:
    """Labelled rows (period, score, outcome 1 = adverse) as counts per period and score value."""
    if labels.empty:
        return pd.DataFrame(columns=OUTCOME_COUNT_COLUMNS)
    grouped = labels.groupby(["period", "score"], sort=True)["outcome"].agg(["sum", "size"]).reset_index()
    return pd.DataFrame(
        {
            "period": grouped["period"],
            "score": grouped["score"].astype(float),
            "positives": grouped["sum"].astype(np.int64),
            "negatives": (grouped["size"] - grouped["sum"]).astype(np.int64),
        }
    )


def outcome_metrics(counts: pd.DataFrame) -> dict[str, float]:
    """Bad rate, expected bad rate, AUC, Gini, KS and a binomial calibration test from per-score counts."""
    counts = counts.groupby("score", sort=True)[["positives", "negatives"]].sum()
    positives = counts["positives"].to_numpy(dtype=np.int64)
    negatives = counts["negatives"].to_numpy(dtype=np.int64)
    adverse, favourable = int(positives.sum()), int(negatives.sum())
    n = adverse + favourable
    out = {"labelled": float(n), "bad_rate": adverse / n if n else np.nan}
    scores = counts.index.to_numpy(dtype=float)
    out["expected_bad_rate"] = math.fsum(scores * (positives + negatives)) / n if n else np.nan
    if adverse and favourable:
        below = np.concatenate([[0], np.cumsum(negatives)[:-1]])  # favourable outcomes at lower scores
        twice = int((positives * (2 * below + negatives)).sum())  # 2 x (pairs ranked right + half the ties)
        auc = twice / (2 * adverse * favourable)
        out.update(auc=float(auc), gini=float(2 * auc - 1))
        gaps = np.cumsum(positives) / adverse - np.cumsum(negatives) / favourable
        out["ks"] = float(np.abs(gaps).max())
        mean = min(max(out["expected_bad_rate"], 1e-9), 1 - 1e-9)
        out["calibration_p_value"] = float(stats.binomtest(adverse, n, mean).pvalue)
    return out


def group_counts_of(grouped: pd.DataFrame | None, attributes: list[str], favourable_label: str) -> pd.DataFrame:
    """Decisions with reported groups (period, decision, one column per attribute) as counts per group."""
    frames = []
    if grouped is not None and not grouped.empty:
        favourable = grouped["decision"] == favourable_label
        for attribute in attributes:
            if attribute not in grouped:
                continue
            known = grouped[attribute].notna()
            keys = [grouped.loc[known, "period"], grouped.loc[known, attribute]]
            counted = favourable[known].groupby(keys).agg(["size", "sum"]).reset_index()
            counted.columns = ["period", "group", "decisions", "favourable"]
            frames.append(counted.assign(attribute=attribute))
    if not frames:
        return pd.DataFrame(columns=GROUP_COUNT_COLUMNS)
    return pd.concat(frames, ignore_index=True)[GROUP_COUNT_COLUMNS]


def fairness_from_counts(counts: pd.DataFrame, attributes: list[tuple[str, str]]) -> pd.DataFrame:
    """Approval rate per (attribute, reference group) pair, group and period, as a ratio to the reference group."""
    rows = []
    for attribute, reference in attributes:
        mine = counts[counts["attribute"] == attribute]
        for period, chunk in mine.groupby("period", sort=True):
            chunk = chunk.groupby("group", sort=True)[["decisions", "favourable"]].sum()
            if reference not in chunk.index:
                continue
            rates = chunk["favourable"] / chunk["decisions"]
            base = rates.loc[reference]
            for group, rate in rates.items():
                rows.append(
                    {
                        "period": period,
                        "attribute": attribute,
                        "group": group,
                        "decisions": int(chunk.loc[group, "decisions"]),
                        "approval_rate": float(rate),
                        "ratio": float(rate / base) if base > 0 else np.nan,
                    }
                )
    return pd.DataFrame(rows, columns=["period", "attribute", "group", "decisions", "approval_rate", "ratio"])
