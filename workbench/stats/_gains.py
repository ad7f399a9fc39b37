"""Cumulative gains, lift by decile and the profit curve of contacting the top scores: a campaign's statistics.

Customers are ranked by score, highest first; ties keep their order in the sample (a stable sort), so a
figure never depends on how a sort happens to break ties. Deciles are ten groups as equal as the count allows
(``numpy.array_split``: the first groups take the remainder).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _ranked(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    y, score = np.asarray(y, dtype=int), np.asarray(score, dtype=float)
    if y.shape != score.shape or not y.size:
        raise ValueError(f"gains need as many outcomes as scores, and some: {y.shape} vs {score.shape}")
    return y[np.argsort(-score, kind="stable")]


def gains_table(y: np.ndarray, score: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """By score group (1 = highest scores): customers, buyers, response rate, lift, cumulative gains and lift.

    ``gain`` is the share of all buyers found in the groups up to this one; ``lift`` is the group's response
    rate over the overall rate, ``cumulative_lift`` the same for the groups up to this one.
    """
    ranked = _ranked(y, score)
    base = float(ranked.mean())
    parts = np.array_split(ranked, groups)
    customers = np.array([len(p) for p in parts])
    buyers = np.array([int(p.sum()) for p in parts])
    cum_customers, cum_buyers = np.cumsum(customers), np.cumsum(buyers)
    with np.errstate(invalid="ignore", divide="ignore"):
        response = buyers / customers
        cum_response = cum_buyers / cum_customers
        return pd.DataFrame(
            {
                "group": np.arange(1, groups + 1),
                "customers": customers,
                "buyers": buyers,
                "response_rate": response,
                "lift": response / base if base else np.nan,
                "cumulative_share": cum_customers / len(ranked),
                "gain": cum_buyers / ranked.sum() if ranked.sum() else np.nan,
                "cumulative_lift": cum_response / base if base else np.nan,
            }
        )


def profit_curve(y: np.ndarray, score: np.ndarray, contact_cost: float, value: float) -> pd.DataFrame:
    """Profit of contacting the top k customers, for every k from 0 to all: value x buyers - cost x k."""
    ranked = _ranked(y, score)
    k = np.arange(len(ranked) + 1)
    buyers = np.concatenate([[0], np.cumsum(ranked)])
    return pd.DataFrame(
        {"contacted": k, "share": k / len(ranked), "buyers": buyers, "profit": value * buyers - contact_cost * k}
    )
