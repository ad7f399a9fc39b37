"""A production simulator: applicants like the German data, drift injected over time, outcomes that arrive late.

Each simulated period draws applicants from the real German rows (bootstrapped, the credit amount jittered
by a few per cent; durations keep their real values, which cluster on 6, 12, 24 months, so that stable
traffic looks like the reference); from ``Drift.start_period`` the drift ramps up to full strength over
``ramp_periods``: applicants get younger, ask for larger amounts, and the purpose mix shifts; optionally more
good outcomes turn bad. The true outcome of each applicant is the real row's outcome, so a model meeting
drifted applicants is judged on real labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.data import add_protected_bands, adverse_target, model_inputs
from workbench.datasets import load_german_credit
from workbench.spec import ModelSpec


@dataclass(frozen=True)
class Drift:
    """What changes, from when, how fast."""

    start_period: int = 0
    ramp_periods: int = 1
    age_shift: float = 0.0
    amount_factor: float = 1.0
    purpose_weights: dict[str, float] = field(default_factory=dict)
    bad_rate_shift: float = 0.0

    def strength(self, period: int) -> float:
        """0 before the drift starts, rising to 1 over ``ramp_periods``."""
        if period < self.start_period:
            return 0.0
        return float(min(1.0, (period - self.start_period + 1) / max(self.ramp_periods, 1)))


@dataclass
class SimulatedPeriod:
    """One period's applications (model inputs), true outcomes (1 = adverse) and protected groups."""

    index: int
    applications: list[dict]
    outcomes: np.ndarray
    groups: pd.DataFrame


class ProductionSimulator:
    """Applicants for period after period, with the configured drift."""

    def __init__(self, spec: ModelSpec, drift: Drift | None = None, seed: int = 0) -> None:
        self.spec = spec
        self.drift = drift or Drift()
        self.seed = seed

    def period(self, index: int, n: int) -> SimulatedPeriod:
        """``n`` applicants of period ``index`` (deterministic for a seed and index)."""
        rng = np.random.default_rng([self.seed, index])
        base = load_german_credit()
        pool = base.iloc[rng.integers(0, len(base), 3 * n)].reset_index(drop=True)
        pool = pool.astype({c: object for c in pool.columns if isinstance(pool[c].dtype, pd.CategoricalDtype)})
        amount = pool["credit_amount"] * rng.lognormal(0.0, 0.03, len(pool))
        pool["credit_amount"] = np.maximum(250, np.round(amount)).astype(int)
        s = self.drift.strength(index)
        weights = np.ones(len(pool))
        for purpose, weight in self.drift.purpose_weights.items():
            weights[(pool["purpose"] == purpose).to_numpy()] *= weight**s
        chosen = pool.iloc[rng.choice(len(pool), n, replace=False, p=weights / weights.sum())].reset_index(drop=True)
        if s and self.drift.age_shift:
            chosen["age"] = np.clip(np.round(chosen["age"] + s * self.drift.age_shift), 18, 80).astype(int)
        if s and self.drift.amount_factor != 1.0:
            factor = 1.0 + s * (self.drift.amount_factor - 1.0)
            chosen["credit_amount"] = np.round(chosen["credit_amount"] * factor).astype(int)
        outcomes = adverse_target(chosen, self.spec).to_numpy(dtype=int)
        if s and self.drift.bad_rate_shift:
            outcomes = np.where(rng.random(n) < s * self.drift.bad_rate_shift, 1, outcomes)
        inputs = model_inputs(chosen, self.spec)
        applications = [
            {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in row.items()}
            for row in inputs.to_dict("records")
        ]
        banded = add_protected_bands(chosen, self.spec)
        groups = pd.DataFrame({a.name: banded[a.data_column].astype(str) for a in self.spec.protected_attributes})
        return SimulatedPeriod(index, applications, outcomes, groups)
