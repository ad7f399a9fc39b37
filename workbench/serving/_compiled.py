"""A plain-numpy scoring path derived from a registered pipeline, for one-row latency in microseconds.

The artefact's own ``predict_proba`` spends most of a single-row request in pandas and validation code. The
server therefore derives, at load time and from the artefact alone, an equivalent path:

* the preprocessing as lookup tables: each categorical feature's encoded block per known level (found by
  probing the fitted ``ColumnTransformer``), each numeric feature as an affine map (probed at 0 and 1);
* a logistic model as coefficients, with exact contributions ``(x - development mean) * coef``;
* a shallow tree ensemble (gradient boosting, depth <= 3) as per-tree decision patterns: the leaf and the
  TreeSHAP values for every pattern of split outcomes are tabulated once, so scoring a row is reading tables.

The TreeSHAP tables hold exact Shapley values of the path-dependent value function (the one ``shap``'s
``TreeExplainer`` uses by default), computed per tree by enumerating coalitions of the tree's few split
columns. Whatever cannot be compiled raises :class:`NotCompilable`; the caller then serves the generic path.
The caller also checks the compiled path against the artefact on the whole validation sample before use.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from workbench.estimators import column_owners

MAX_TREE_SPLITS = 7  # depth-3 trees: 2**7 = 128 patterns per tree (and a row's pattern fits a byte)


class NotCompilable(ValueError):
    """The pipeline has a part the compiled path does not know; the generic path serves it."""


class _Encoder:
    """Raw feature values to the encoded row, from tables probed off the fitted preprocessing."""

    def __init__(
        self,
        preprocess: ColumnTransformer,
        numeric: list[str],
        categorical: list[str],
        levels: dict[str, list[str]],
        base: pd.DataFrame,
    ) -> None:
        features = numeric + categorical
        owners = column_owners(preprocess, features)
        self.width = len(owners)
        self.numeric = numeric
        self.categorical = categorical
        self.owners = owners
        # plain Python (column, value) pairs: one row is encoded without per-feature numpy call overhead
        self.numeric_plan: list[tuple[str, list[tuple[int, float, float]], list[tuple[int, float]]]] = []
        self.standardised: set[str] = set()  # features whose plan is (column, mean, scale), not an affine map
        for name in numeric:
            columns = np.flatnonzero(owners == features.index(name))
            at0, at1, missing = (self._probe(preprocess, base, name, v)[columns] for v in (0.0, 1.0, np.nan))
            affine = [(int(c), float(o), float(k)) for c, o, k in zip(columns, at0, at1 - at0, strict=True)]
            filled = [(int(c), float(v)) for c, v in zip(columns, missing, strict=True)]
            standard = _standardisation(preprocess, name)
            if standard is not None and len(columns) == 1:  # (x - mean) / scale, as the scaler computes it
                affine = [(int(columns[0]), *standard)]
                self.standardised.add(name)
            self.numeric_plan.append((name, affine, filled))
        self.category_plan: list[tuple[str, dict[str, list[tuple[int, float]]]]] = []
        for name in categorical:
            columns = np.flatnonzero(owners == features.index(name))
            blocks = {}
            for level in levels[name]:
                block = self._probe(preprocess, base, name, level)[columns]
                blocks[level] = [(int(c), float(v)) for c, v in zip(columns, block, strict=True) if v]
            self.category_plan.append((name, blocks))

    @staticmethod
    def _probe(preprocess: ColumnTransformer, base: pd.DataFrame, name: str, value: object) -> np.ndarray:
        row = base.copy()
        row[name] = pd.Series([value], index=row.index, dtype=row[name].dtype if value is not None else object)
        return np.asarray(preprocess.transform(row), dtype=float)[0]

    def encode(self, rows: list[dict[str, object]]) -> np.ndarray:
        """Encoded matrix for validated rows (numbers as floats, categories as known levels, None = missing)."""
        out = []
        width = self.width
        standardised = self.standardised
        for row in rows:
            vector = [0.0] * width
            for name, affine, missing in self.numeric_plan:
                value = row[name]
                if value is None:
                    for column, filled in missing:
                        vector[column] = filled
                elif name in standardised:
                    for column, mean, scale in affine:
                        vector[column] = (value - mean) / scale
                else:
                    for column, offset, slope in affine:
                        vector[column] = offset + slope * value
            for name, blocks in self.category_plan:
                for column, filled in blocks[row[name]]:
                    vector[column] = filled
            out.append(vector)
        return np.array(out, dtype=float).reshape(len(rows), width)


def _standardisation(preprocess: ColumnTransformer, name: str) -> tuple[float, float] | None:
    """(mean, scale) when ``name`` goes through a fitted ``StandardScaler`` after imputation, else None.

    A probed affine map ``offset + slope * x`` differs from the scaler's ``(x - mean) / scale`` in the last bits
    for large inputs (seconds since a card's last transaction run to millions), so such features are encoded
    with the scaler's own arithmetic.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    for _, transformer, columns in preprocess.transformers_:
        if not isinstance(columns, list | tuple) or name not in columns or not isinstance(transformer, Pipeline):
            continue
        steps = [step for _, step in transformer.steps]
        if len(steps) == 2 and isinstance(steps[0], SimpleImputer) and isinstance(steps[1], StandardScaler):
            scaler, k = steps[1], list(columns).index(name)
            mean = float(scaler.mean_[k]) if scaler.with_mean else 0.0
            scale = float(scaler.scale_[k]) if scaler.with_std else 1.0
            return mean, scale
    return None


def _tree_tables(tree, n_columns: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For one fitted tree: split nodes (column, threshold) and, per pattern of outcomes, leaf value and SHAP.

    Bit ``j`` of a pattern is 1 when the row goes left at split ``j`` (``x[column] <= threshold``).
    """
    t = tree.tree_
    splits = [n for n in range(t.node_count) if t.children_left[n] != -1]
    if len(splits) > MAX_TREE_SPLITS:
        raise NotCompilable(f"a tree has {len(splits)} splits; at most {MAX_TREE_SPLITS} are tabulated")
    position = {node: j for j, node in enumerate(splits)}
    cover = t.weighted_n_node_samples
    values = t.value[:, 0, 0] * scale
    columns = sorted({int(t.feature[n]) for n in splits})

    def expectation(node: int, known: frozenset[int], pattern: int) -> float:
        if t.children_left[node] == -1:
            return float(values[node])
        left, right = t.children_left[node], t.children_right[node]
        if int(t.feature[node]) in known:
            goes_left = (pattern >> position[node]) & 1
            return expectation(left if goes_left else right, known, pattern)
        return (
            cover[left] * expectation(left, known, pattern) + cover[right] * expectation(right, known, pattern)
        ) / cover[node]

    n_patterns = 2 ** len(splits)
    leaf_value = np.empty(n_patterns)
    shap_values = np.zeros((n_patterns, n_columns))
    m = len(columns)
    weights = {size: math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m) for size in range(m)}
    everything = frozenset(columns)
    for pattern in range(n_patterns):
        leaf_value[pattern] = expectation(0, everything, pattern)
        memo: dict[frozenset[int], float] = {}

        def value_of(coalition: frozenset[int], pattern: int = pattern, memo: dict = memo) -> float:
            if coalition not in memo:
                memo[coalition] = expectation(0, coalition, pattern)
            return memo[coalition]

        for column in columns:
            others = [c for c in columns if c != column]
            total = 0.0
            for size in range(m):
                for subset in combinations(others, size):
                    coalition = frozenset(subset)
                    total += weights[size] * (value_of(coalition | {column}) - value_of(coalition))
            shap_values[pattern, column] = total
    split_columns = np.array([int(t.feature[n]) for n in splits], dtype=int)
    thresholds = np.array([float(t.threshold[n]) for n in splits])
    return split_columns, thresholds, leaf_value, shap_values


class _LogisticPath:
    """Exact scorecard arithmetic: log-odds and contributions from the development mean."""

    method = "exact (logistic scorecard)"

    def __init__(self, estimator: LogisticRegression, encoded_background: np.ndarray, aggregate: np.ndarray) -> None:
        self.coef = estimator.coef_[0].astype(float)
        self.intercept = float(estimator.intercept_[0])
        self.mean = encoded_background.mean(axis=0)
        self.aggregate = aggregate

    def log_odds_and_contributions(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-odds per row and contributions per raw feature."""
        return encoded @ self.coef + self.intercept, ((encoded - self.mean) * self.coef) @ self.aggregate


class _TreeEnsemblePath:
    """Binary gradient boosting as tabulated decision patterns (see the module docstring)."""

    method = "TreeSHAP (tabulated path-dependent)"

    def __init__(self, estimator: GradientBoostingClassifier, aggregate: np.ndarray) -> None:
        n_columns = aggregate.shape[0]
        if estimator.n_classes_ != 2 or estimator.estimators_.shape[1] != 1:
            raise NotCompilable("only binary gradient boosting is compiled")
        if estimator.init_ != "zero" and not hasattr(estimator.init_, "class_prior_"):
            raise NotCompilable("only the default prior initial estimator is compiled")
        self.init = float(estimator._raw_predict_init(np.zeros((1, n_columns), dtype=np.float32))[0, 0])
        tables = [_tree_tables(t, n_columns, estimator.learning_rate) for t in estimator.estimators_[:, 0]]
        width = max(len(c) for c, *_ in tables)
        n_trees = len(tables)
        self.columns = np.zeros((n_trees, width), dtype=int)
        self.thresholds = np.full((n_trees, width), np.inf)  # padding: always "left", bit set, never read
        self.leaf = np.zeros((n_trees, 2**width))
        shap_encoded = np.zeros((n_trees, 2**width, n_columns))
        for i, (columns, thresholds, leaf, shap_values) in enumerate(tables):
            k = len(columns)
            self.columns[i, :k], self.thresholds[i, :k] = columns, thresholds
            # a pattern's bits beyond the tree's own splits are padding: repeat its table for each of them
            reps = 2 ** (width - k)
            self.leaf[i] = np.tile(leaf, reps)
            shap_encoded[i] = np.tile(shap_values, (reps, 1))
        per_feature = shap_encoded @ aggregate  # per raw feature: summed once here, not per request
        # each tree moves at most a few features: keep (feature, value) per tree and pattern, not all features
        used = [np.flatnonzero(np.abs(per_feature[t]).sum(axis=0) > 0) for t in range(n_trees)]
        k = max(1, max(len(u) for u in used))
        self.n_features = aggregate.shape[1]
        self.shap_features = np.full((n_trees, k), self.n_features)  # padding points at a spare slot
        shap_values = np.zeros((n_trees, 2**width, k))
        for t, features in enumerate(used):
            self.shap_features[t, : len(features)] = features
            shap_values[t, :, : len(features)] = per_feature[t][:, features]
        self.n_patterns = 2**width
        self.flat_leaf = self.leaf.reshape(-1)
        self.flat_shap = shap_values.reshape(n_trees * self.n_patterns, k)
        self.offsets = np.arange(n_trees) * self.n_patterns
        self.powers = 2 ** np.arange(width)
        # one row: splits as flat arrays, bit values small enough for a byte (width <= 7), and each cell's
        # leaf beside its SHAP values in a slot of its own, so one bincount sums contributions and log-odds
        self.flat_columns, self.flat_thresholds = self.columns.ravel(), self.thresholds.ravel()
        self.bits = self.powers.astype(np.uint8)
        self.row_table = np.concatenate([self.flat_shap, self.flat_leaf[:, None]], axis=1)
        leaf_slot = np.full((n_trees, 1), self.n_features + 1)
        self.row_slots = np.concatenate([self.shap_features, leaf_slot], axis=1).ravel()

    def log_odds_and_contributions(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-odds per row and contributions per raw feature."""
        x = encoded.astype(np.float32).astype(float)  # trees compare float32 inputs, as scikit-learn does
        slots = self.n_features + 1
        if len(x) == 1:  # the common request: one application, no row axis to broadcast over
            goes_left = (x[0].take(self.flat_columns) <= self.flat_thresholds).view(np.uint8)
            cells = np.dot(goes_left.reshape(self.columns.shape), self.bits) + self.offsets
            weights = self.row_table.take(cells, axis=0).ravel()
            totals = np.bincount(self.row_slots, weights=weights, minlength=slots + 1)
            return np.array([self.init + totals[-1]]), totals[None, : self.n_features]
        goes_left = x[:, self.columns] <= self.thresholds  # rows x trees x splits
        cells = goes_left.dot(self.powers) + self.offsets  # rows x trees: the (tree, pattern) cell reached
        raw = self.init + np.take(self.flat_leaf, cells).sum(axis=1)
        values = np.take(self.flat_shap, cells, axis=0)  # rows x trees x features-per-tree
        rows = len(encoded)
        where = self.shap_features[None, :, :] + (np.arange(rows) * slots)[:, None, None]
        totals = np.bincount(where.ravel(), weights=values.ravel(), minlength=rows * slots)
        return raw, totals.reshape(rows, slots)[:, : self.n_features]


class CompiledScorer:
    """Scores and per-feature contributions for validated input rows, without pandas on the request path."""

    def __init__(
        self,
        model: Pipeline,
        numeric: list[str],
        categorical: list[str],
        levels: dict[str, list[str]],
        background: pd.DataFrame,
    ) -> None:
        preprocess = model.named_steps.get("preprocess")
        estimator = model.named_steps.get("model")
        if not isinstance(preprocess, ColumnTransformer):
            raise NotCompilable("the pipeline has no fitted ColumnTransformer step named 'preprocess'")
        self.features = numeric + categorical
        self.encoder = _Encoder(preprocess, numeric, categorical, levels, background.iloc[[0]])
        owners = self.encoder.owners
        aggregate = np.zeros((len(owners), len(self.features)))
        aggregate[np.arange(len(owners)), owners] = 1.0
        if isinstance(estimator, LogisticRegression) and estimator.coef_.shape[0] == 1:
            encoded_background = np.asarray(preprocess.transform(background), dtype=float)
            self.path: _LogisticPath | _TreeEnsemblePath = _LogisticPath(estimator, encoded_background, aggregate)
        elif isinstance(estimator, GradientBoostingClassifier):
            self.path = _TreeEnsemblePath(estimator, aggregate)
        elif isinstance(estimator, HistGradientBoostingClassifier):
            from workbench.serving._compiled_trees import HistTreePath

            self.path = HistTreePath(estimator, aggregate)
        else:
            raise NotCompilable(f"no compiled path for {type(estimator).__name__}")
        self.method = self.path.method

    def score(self, rows: list[dict[str, object]]) -> tuple[np.ndarray, np.ndarray]:
        """Probability of the adverse outcome and contributions per raw feature (log-odds), per row."""
        log_odds, contributions = self.path.log_odds_and_contributions(self.encoder.encode(rows))
        if len(log_odds) == 1 and abs(log_odds[0]) < 700.0:  # one row: math is ten times cheaper than numpy
            return np.array([1.0 / (1.0 + math.exp(-log_odds[0]))]), contributions
        return 1.0 / (1.0 + np.exp(-log_odds)), contributions
