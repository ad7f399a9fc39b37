"""LIME local explanations on the raw inputs (categories label-encoded for LIME, decoded for the model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lime.lime_tabular import LimeTabularExplainer
from sklearn.pipeline import Pipeline

from workbench.spec import ModelSpec


class LimeExplainer:
    """Fits LIME's sampling statistics on the development inputs and explains single cases."""

    def __init__(self, model: Pipeline, spec: ModelSpec, background: pd.DataFrame, seed: int = 0) -> None:
        self.model = model
        self.features = list(spec.features.all)
        self.categorical = list(spec.features.categorical)
        self.levels = {name: sorted(background[name].dropna().astype(str).unique()) for name in self.categorical}
        encoded = self._encode(background)
        self.explainer = LimeTabularExplainer(
            encoded,
            feature_names=self.features,
            class_names=["other", "adverse"],
            categorical_features=[self.features.index(c) for c in self.categorical],
            categorical_names={self.features.index(c): self.levels[c] for c in self.categorical},
            discretize_continuous=True,
            random_state=seed,
            mode="classification",
        )

    def _encode(self, inputs: pd.DataFrame) -> np.ndarray:
        out = inputs[self.features].copy()
        for name in self.categorical:
            lookup = {level: i for i, level in enumerate(self.levels[name])}
            out[name] = out[name].astype(str).map(lookup).fillna(0)
        return out.to_numpy(dtype=float)

    def _decode(self, encoded: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(encoded, columns=self.features)
        for name in self.categorical:
            codes = np.clip(np.round(frame[name]).astype(int), 0, len(self.levels[name]) - 1)
            frame[name] = np.asarray(self.levels[name], dtype=object)[codes]
        return frame

    def _predict(self, encoded: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self._decode(encoded))

    def weights(self, row: pd.DataFrame, num_samples: int = 2000) -> pd.Series:
        """LIME weight of every feature towards the adverse outcome for one case."""
        explanation = self.explainer.explain_instance(
            self._encode(row)[0], self._predict, labels=(1,), num_features=len(self.features), num_samples=num_samples
        )
        weights = dict(explanation.as_map()[1])
        return pd.Series({name: float(weights.get(i, 0.0)) for i, name in enumerate(self.features)})
