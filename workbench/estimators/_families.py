"""Candidate model families by name: each builds a full pipeline that carries its own preprocessing.

A spec's ``candidates[].family`` must be a key of ``FAMILIES``; adding a family is adding one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scikit-learn is imported by the builders: checking a spec's family names needs none of it
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class ModelFamily:
    """A named way to build an unfitted pipeline from the feature lists, settings and hyper-parameters."""

    name: str
    interpretable: bool
    description: str
    build: Callable[..., Pipeline]


def preprocessing(
    numeric: list[str], categorical: list[str], *, min_category_count: int, drop_reference: bool
) -> ColumnTransformer:
    """Median-impute numbers; one-hot encode categories with rare levels pooled into 'infrequent'.

    ``drop_reference`` drops each feature's first level, which an unpenalised logit with an intercept needs
    to be identifiable.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encoder = OneHotEncoder(
        drop="first" if drop_reference else None,
        handle_unknown="infrequent_if_exist",
        min_frequency=min_category_count,
        sparse_output=False,
    )
    categorical_steps = Pipeline(
        [("impute", SimpleImputer(strategy="constant", fill_value="(missing)")), ("encode", encoder)]
    )
    return ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), numeric),
            ("categorical", categorical_steps, categorical),
        ],
        verbose_feature_names_out=True,
    )


def column_owners(preprocess: ColumnTransformer, features: list[str]) -> np.ndarray:
    """For each encoded column of a fitted preprocessing step, the index of the raw feature it comes from."""
    from sklearn.pipeline import Pipeline

    owners: list[int] = []
    for _name, transformer, columns in preprocess.transformers_:
        if transformer == "drop" or not len(columns):
            continue
        columns = list(columns)
        encoder = transformer.steps[-1][1] if isinstance(transformer, Pipeline) else transformer
        if hasattr(encoder, "categories_"):
            labels = encoder.get_feature_names_out([str(i) for i in range(len(columns))])
            owners += [features.index(columns[int(label.split("_", 1)[0])]) for label in labels]
        else:
            owners += [features.index(c) for c in columns]
    return np.asarray(owners)


def _scorecard(
    numeric: list[str], categorical: list[str], *, min_category_count: int, seed: int, **params: Any
) -> Pipeline:
    from sklearn.pipeline import Pipeline

    from workbench.estimators._scorecard import StatsmodelsScorecard

    return Pipeline(
        [
            (
                "preprocess",
                preprocessing(numeric, categorical, min_category_count=min_category_count, drop_reference=True),
            ),
            ("model", StatsmodelsScorecard(**params)),
        ]
    )


def _gradient_boosting(
    numeric: list[str], categorical: list[str], *, min_category_count: int, seed: int, **params: Any
) -> Pipeline:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    settings = {"n_estimators": 200, "learning_rate": 0.05, "max_depth": 2, "subsample": 0.8, **params}
    return Pipeline(
        [
            (
                "preprocess",
                preprocessing(numeric, categorical, min_category_count=min_category_count, drop_reference=False),
            ),
            ("model", GradientBoostingClassifier(random_state=seed, **settings)),
        ]
    )


def _penalised_logit(
    numeric: list[str], categorical: list[str], *, min_category_count: int, seed: int, **params: Any
) -> Pipeline:
    """L2-penalised logistic regression on standardised numbers: the interpretable benchmark for rare events.

    ``class_weight: balanced`` weighs the rare class up, so the fit is not dominated by the common one; the
    scores then rank rather than estimate probabilities, which the fraud kind's tests take into account.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    base = preprocessing(numeric, categorical, min_category_count=min_category_count, drop_reference=True)
    scaled = ColumnTransformer(
        [
            ("numeric", Pipeline([("impute", base.transformers[0][1]), ("scale", StandardScaler())]), numeric),
            ("categorical", base.transformers[1][1], categorical),
        ],
        verbose_feature_names_out=True,
    )
    settings = {"C": 1.0, "max_iter": 2000, **params}
    return Pipeline([("preprocess", scaled), ("model", LogisticRegression(random_state=seed, **settings))])


def _hist_gradient_boosting(
    numeric: list[str], categorical: list[str], *, min_category_count: int, seed: int, **params: Any
) -> Pipeline:
    """Histogram gradient boosting (fast on hundreds of thousands of rows); ``class_weight`` for rare events."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    settings = {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "early_stopping": False, **params}
    return Pipeline(
        [
            (
                "preprocess",
                preprocessing(numeric, categorical, min_category_count=min_category_count, drop_reference=False),
            ),
            ("model", HistGradientBoostingClassifier(random_state=seed, **settings)),
        ]
    )


FAMILIES: dict[str, ModelFamily] = {
    "scorecard_logit": ModelFamily(
        "scorecard_logit",
        True,
        "Logistic-regression scorecard fitted by maximum likelihood (statsmodels), with standard errors",
        _scorecard,
    ),
    "gradient_boosting": ModelFamily(
        "gradient_boosting",
        False,
        "Gradient-boosted decision trees (scikit-learn GradientBoostingClassifier)",
        _gradient_boosting,
    ),
    "penalised_logit": ModelFamily(
        "penalised_logit",
        True,
        "L2-penalised logistic regression on standardised inputs (scikit-learn), optionally class-weighted",
        _penalised_logit,
    ),
    "hist_gradient_boosting": ModelFamily(
        "hist_gradient_boosting",
        False,
        "Histogram gradient-boosted trees (scikit-learn HistGradientBoostingClassifier), optionally class-weighted",
        _hist_gradient_boosting,
    ),
}
