"""Per-feature contributions to a score, in log-odds, for reason codes and global importance.

Exact for the logistic scorecard (coefficient times the encoded value's distance from the development
average) and TreeSHAP for tree ensembles. One-hot columns are summed back to the raw feature they encode, so
every contribution names an input the applicant gave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from workbench.decision import reason_codes
from workbench.estimators import column_owners
from workbench.spec import ModelSpec


@dataclass
class Reason:
    """One reason code: the feature, its push towards the adverse outcome (log-odds) and the notice text."""

    feature: str
    contribution: float
    text: str


class ContributionExplainer:
    """Explains a registered pipeline's scores feature by feature.

    Parameters
    ----------
    model:
        The registered pipeline (``preprocess`` then ``model`` step).
    spec:
        Supplies the feature order and the adverse-action texts.
    background:
        Development-sample inputs: the reference applicant is their average (scorecard).
    """

    def __init__(self, model: Pipeline, spec: ModelSpec, background: pd.DataFrame) -> None:
        self.model = model
        self.spec = spec
        self.features = list(spec.features.all)
        self.preprocess: ColumnTransformer = model.named_steps["preprocess"]
        self.estimator = model.named_steps["model"]
        owners = column_owners(self.preprocess, self.features)
        self.aggregate = np.zeros((len(owners), len(self.features)))
        self.aggregate[np.arange(len(owners)), owners] = 1.0
        if isinstance(self.estimator, LogisticRegression):
            self.method = "exact (logistic scorecard)"
            self._mean = np.asarray(self.preprocess.transform(background), dtype=float).mean(axis=0)
            self._coef = self.estimator.coef_[0]
            self._tree = None
        else:
            import shap

            self.method = "TreeSHAP"
            self._tree = shap.TreeExplainer(self.estimator)

    @property
    def expected_value(self) -> float:
        """Log-odds of the reference applicant (contributions are measured from here)."""
        if self._tree is None:
            return float(self._mean @ self._coef + self.estimator.intercept_[0])
        value = np.atleast_1d(self._tree.expected_value)
        return float(value[-1])

    def encoded_contributions(self, inputs: pd.DataFrame) -> np.ndarray:
        """Contributions per encoded column (n rows x encoded columns)."""
        encoded = np.asarray(self.preprocess.transform(inputs), dtype=float)
        if self._tree is None:
            return (encoded - self._mean) * self._coef
        values = self._tree.shap_values(encoded, check_additivity=False)
        values = values[1] if isinstance(values, list) else values
        return values[..., -1] if values.ndim == 3 else values

    def contributions(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """Contributions per raw feature (log-odds); each row sums to the score's log-odds minus the reference."""
        return pd.DataFrame(
            self.encoded_contributions(inputs) @ self.aggregate, columns=self.features, index=inputs.index
        )

    def reasons(self, inputs: pd.DataFrame, k: int | None = None) -> list[list[Reason]]:
        """Top-k features pushing each case towards the adverse outcome, with their notice texts."""
        codes = reason_codes(
            self.contributions(inputs).to_numpy(),
            self.features,
            self.spec.decision.adverse_action_texts,
            k or self.spec.decision.reason_codes,
            values=inputs[self.features].to_numpy(dtype=object).tolist(),
        )
        return [[Reason(r["feature"], r["contribution"], r["text"]) for r in row] for row in codes]

    def importance(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """Global importance: mean absolute contribution per feature, largest first."""
        values = self.contributions(inputs).abs().mean()
        return values.sort_values(ascending=False).rename("mean_abs_contribution").rename_axis("feature").reset_index()
