"""Larger data sets with the German credit schema, for scale tests and benchmarks.

Rows are drawn with replacement from the real decoded data, so the joint structure (including the link
between inputs, protected groups and the outcome) is the real one; numbers are jittered so rows are not exact
copies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.datasets._german_credit import load_german_credit


def synthetic_german_credit(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` applications with the German credit columns (including ``sex``), drawn from the real data."""
    if n_rows < 1:
        raise ValueError(f"n_rows: must be positive, got {n_rows}")
    base = load_german_credit()
    rng = np.random.default_rng(seed)
    frame = base.iloc[rng.integers(0, len(base), n_rows)].reset_index(drop=True)
    frame["credit_amount"] = np.maximum(250, np.round(frame["credit_amount"] * rng.lognormal(0.0, 0.1, n_rows)))
    frame["credit_amount"] = frame["credit_amount"].astype("int64")
    frame["duration_months"] = np.clip(frame["duration_months"] + rng.integers(-2, 3, n_rows), 4, 72)
    frame["age"] = np.clip(frame["age"] + rng.integers(-2, 3, n_rows), 19, 75)
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].astype("category")
    return frame
