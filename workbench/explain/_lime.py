"""LIME local explanations on the raw inputs (categories label-encoded for LIME, decoded for the model).

LIME samples around a case from the development inputs' statistics, which a missing value would turn into
NaN (scipy's truncated normal then refuses them). So LIME sees the inputs the model itself sees: missing
numbers filled with the pipeline's own fitted imputation, missing categories as the pipeline's missing level.
A case with a missing value is explained at the value the model used for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lime.lime_tabular import LimeTabularExplainer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

from workbench.spec import ModelSpec


def fitted_fills(model: Pipeline) -> dict[str, object]:
    """The value the pipeline's fitted imputers put in place of a missing input, per raw feature."""
    fills: dict[str, object] = {}
    for _name, transformer, columns in model.named_steps["preprocess"].transformers_:
        steps = transformer.steps if isinstance(transformer, Pipeline) else [(None, transformer)]
        imputer = next((step for _, step in steps if isinstance(step, SimpleImputer)), None)
        if imputer is not None and len(columns):  # a transformer of no columns (no categories) is never fitted
            fills.update(zip(list(columns), imputer.statistics_, strict=True))
    return fills


class LimeExplainer:
    """Fits LIME's sampling statistics on the development inputs and explains single cases."""

    def __init__(self, model: Pipeline, spec: ModelSpec, background: pd.DataFrame, seed: int = 0) -> None:
        self.model = model
        self.features = list(spec.features.all)
        self.categorical = list(spec.features.categorical)
        self.fills = fitted_fills(model)
        background = self._as_model_sees(background)
        self.levels = {name: sorted(background[name].astype(str).unique()) for name in self.categorical}
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

    def _as_model_sees(self, inputs: pd.DataFrame) -> pd.DataFrame:
        out = inputs[self.features].copy()
        for name, fill in self.fills.items():
            if name in out and out[name].isna().any():
                out[name] = out[name].astype(object).where(out[name].notna(), fill)
                if name not in self.categorical:
                    out[name] = out[name].astype("float64")
        return out

    def _encode(self, inputs: pd.DataFrame) -> np.ndarray:
        out = self._as_model_sees(inputs)
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
