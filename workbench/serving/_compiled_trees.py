"""The compiled path of a histogram gradient-boosting model (the fraud kind's chosen family).

scikit-learn's ``HistGradientBoostingClassifier.predict_proba`` costs about a millisecond for one row, most of
it starting its OpenMP threads; the pandas preprocessing in front of it ten more. The compiled path reads the
fitted trees once into plain Python lists and walks them for a single row (about a hundred trees of a few
levels: microseconds), adding the leaves in scikit-learn's own order from the same baseline, so the sum is
the same float. A batch goes to the estimator's own ``_raw_predict`` on the encoded rows. Contributions are
``shap``'s TreeSHAP on the encoded row, as the generic explainer computes them, so they are the same numbers.
Hand-written because no library walks a fitted scikit-learn tree for one row without that per-call overhead;
the caller checks the result against the artefact on the whole validation sample before serving it.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier


class HistTreePath:
    """Binary histogram gradient boosting on encoded rows: log-odds and TreeSHAP contributions per raw feature."""

    method = "TreeSHAP (shap, on the encoded row)"

    def __init__(self, estimator: HistGradientBoostingClassifier, aggregate: np.ndarray) -> None:
        from workbench.serving._compiled import NotCompilable

        if getattr(estimator, "n_trees_per_iteration_", 0) != 1:
            raise NotCompilable("only binary histogram gradient boosting is compiled")
        self.estimator = estimator
        self.baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
        self.trees = []
        for (predictor,) in estimator._predictors:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise NotCompilable("a tree splits on a native categorical feature")
            self.trees.append(
                (
                    nodes["is_leaf"].astype(bool).tolist(),
                    nodes["feature_idx"].tolist(),
                    nodes["num_threshold"].tolist(),
                    nodes["missing_go_to_left"].astype(bool).tolist(),
                    nodes["left"].tolist(),
                    nodes["right"].tolist(),
                    nodes["value"].tolist(),
                )
            )
        self.aggregate = aggregate
        import shap

        self.explainer = shap.TreeExplainer(estimator)

    def _one(self, row: list[float]) -> float:
        total = self.baseline
        for is_leaf, feature, threshold, missing_left, left, right, value in self.trees:
            node = 0
            while not is_leaf[node]:
                x = row[feature[node]]
                if x != x:
                    node = left[node] if missing_left[node] else right[node]
                else:
                    node = left[node] if x <= threshold[node] else right[node]
            total += value[node]
        return total

    def log_odds_and_contributions(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-odds per row and contributions per raw feature."""
        if len(encoded) == 1:
            log_odds = np.array([self._one(encoded[0].tolist())])
        else:
            log_odds = self.estimator._raw_predict(encoded)[:, 0]
        values = self.explainer.shap_values(encoded, check_additivity=False)
        values = values[1] if isinstance(values, list) else values
        values = values[..., -1] if values.ndim == 3 else values
        return log_odds, values @ self.aggregate
