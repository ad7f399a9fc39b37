"""Aliased and near-aliased features: columns the others already determine, found before any fit.

Real extracts carry them: a set of dummies next to their total, a ``grade`` nested in a ``sub_grade``, a
count that is the sum of two other counts. An unpenalised logit cannot be fitted on them ("Singular matrix",
"rank deficient"), and a tree model splits the credit for one signal between copies. The check works on the
scorecard's own design (the spec's preprocessing with a reference level dropped, numbers median-imputed, each
column standardised, plus an intercept): a feature whose encoded columns the other features' columns explain
with R^2 = 1 is aliased; above ``near`` (R^2 0.999, a variance inflation factor of 1,000) it is near-aliased.

Aliased features are dropped one at a time, the feature with the fewest columns first (the coarser of two
nested categories), then the later one in the spec's order, until none is left; near-aliased ones are
reported and kept, since the fit then exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.estimators import column_owners, preprocessing

#: Eigenvalues of the standardised design's Gram matrix below this share of the largest count as zero.
EIGEN_TOLERANCE = 1e-10
#: Most rows the check fits on; beyond this a seeded sample decides (aliasing is a property of the columns).
MAX_ROWS = 20_000


@dataclass(frozen=True)
class AliasedFeature:
    """A feature the others explain, with how well, by which features, and what was done about it."""

    feature: str
    kind: str  # "aliased" or "near-aliased"
    r_squared: float
    explained_by: tuple[str, ...]
    action: str

    @property
    def vif(self) -> float:
        """Variance inflation factor, 1 / (1 - R^2) (infinite when aliased)."""
        return float("inf") if self.r_squared >= 1.0 else 1.0 / (1.0 - self.r_squared)

    def row(self) -> dict[str, object]:
        """One row of the data-validation table."""
        return {
            "feature": self.feature,
            "kind": self.kind,
            "r_squared": self.r_squared,
            "vif": self.vif,
            "explained_by": ", ".join(self.explained_by),
            "action": self.action,
        }


def _design(
    inputs: pd.DataFrame, numeric: list[str], categorical: list[str], min_category_count: int
) -> tuple[np.ndarray, np.ndarray]:
    features = [*numeric, *categorical]
    step = preprocessing(numeric, categorical, min_category_count=min_category_count, drop_reference=True)
    encoded = np.asarray(step.fit_transform(inputs[features]), dtype=float)
    owners = column_owners(step, features)
    centred = encoded - encoded.mean(axis=0)
    scale = centred.std(axis=0)
    return np.divide(centred, scale, out=np.zeros_like(centred), where=scale > 0), owners


def _gram(design: np.ndarray, owners: np.ndarray, remaining: list[int]) -> tuple[np.ndarray, np.ndarray]:
    columns = np.isin(owners, remaining)
    matrix = design[:, columns]
    return matrix.T @ matrix / len(matrix), owners[columns]


def _rref(rows: np.ndarray) -> np.ndarray:
    """Reduced row echelon form of a few null vectors: independent dependencies come apart (disjoint supports)."""
    rows = rows.copy()
    pivot_row = 0
    for column in range(rows.shape[1]):
        if pivot_row == len(rows):
            break
        best = pivot_row + int(np.argmax(np.abs(rows[pivot_row:, column])))
        if abs(rows[best, column]) < 1e-8:
            continue
        rows[[pivot_row, best]] = rows[[best, pivot_row]]
        rows[pivot_row] /= rows[pivot_row, column]
        for other in range(len(rows)):
            if other != pivot_row:
                rows[other] -= rows[other, column] * rows[pivot_row]
        pivot_row += 1
    return rows


def _dependency(gram: np.ndarray, owners: np.ndarray) -> list[set[int]]:
    """Groups of features whose columns are linearly dependent, one per independent dependency."""
    values, vectors = np.linalg.eigh(gram)
    null = vectors[:, values <= EIGEN_TOLERANCE * max(float(values.max()), 1.0)]
    if null.shape[1] == 0:
        return []
    return [{int(o) for o in owners[np.abs(v) > 1e-6]} for v in _rref(null.T)]


def _r_squared(gram: np.ndarray, owners: np.ndarray, feature: int) -> float:
    """R^2 of a feature's columns on all the others' (trace form; 1 - 1/VIF for a single column)."""
    inverse = np.linalg.inv(gram)
    mine = owners == feature
    residual = np.linalg.inv(inverse[np.ix_(mine, mine)])
    total = float(np.trace(gram[np.ix_(mine, mine)]))
    return 1.0 - float(np.trace(residual)) / total if total > 0 else 1.0


def aliased_features(
    inputs: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    min_category_count: int = 10,
    near: float = 0.999,
    seed: int = 0,
) -> list[AliasedFeature]:
    """Aliased features to drop (in the order they are dropped) and near-aliased ones to report."""
    if len(inputs) > MAX_ROWS:
        inputs = inputs.iloc[np.sort(np.random.default_rng(seed).choice(len(inputs), MAX_ROWS, replace=False))]
    names = [*numeric, *categorical]
    design, owners = _design(inputs, numeric, categorical, min_category_count)
    constant = [f for f in range(len(names)) if not design[:, owners == f].any()]
    found = [
        AliasedFeature(names[f], "aliased", 1.0, ("(a constant)",), "dropped before fitting: it never varies")
        for f in constant
    ]
    remaining = [f for f in range(len(names)) if f not in constant]
    while len(remaining) > 1:
        gram, gram_owners = _gram(design, owners, remaining)
        groups = _dependency(gram, gram_owners)
        if not groups:
            break
        drop = min(set().union(*groups), key=lambda f: (int((owners == f).sum()), -f))
        partners = sorted(set().union(*(g for g in groups if drop in g)) - {drop})
        mine = design[:, owners == drop]
        rest = design[:, np.isin(owners, [f for f in remaining if f != drop])]
        residual = mine - rest @ np.linalg.lstsq(rest, mine, rcond=None)[0]
        r_squared = min(1.0, 1.0 - float((residual**2).sum()) / float((mine**2).sum()))
        whole = r_squared >= 1.0 - 1e-9
        found.append(
            AliasedFeature(
                names[drop],
                "aliased",
                1.0 if whole else r_squared,
                tuple(names[f] for f in partners),
                "dropped before fitting: "
                + (
                    "the features named determine it exactly"
                    if whole
                    else "the features named determine some of its levels exactly"
                ),
            )
        )
        remaining.remove(drop)
    if len(remaining) > 1:
        gram, gram_owners = _gram(design, owners, remaining)
        for f in remaining:
            r_squared = _r_squared(gram, gram_owners, f)
            if r_squared >= near:
                others = [o for o in remaining if o != f]
                found.append(
                    AliasedFeature(
                        names[f],
                        "near-aliased",
                        r_squared,
                        _partners(design, owners, f, others, names, share=0.1),
                        "kept; its estimates will be unstable",
                    )
                )
    return found


def _partners(
    design: np.ndarray, owners: np.ndarray, feature: int, others: list[int], names: list[str], *, share: float
) -> tuple[str, ...]:
    """The features that carry a near-aliased feature's fit on the others, strongest first (``share`` of the top)."""
    mine, columns = design[:, owners == feature], np.isin(owners, others)
    coef, *_ = np.linalg.lstsq(design[:, columns], mine, rcond=None)
    weight = pd.Series(np.abs(coef).sum(axis=1), index=owners[columns]).groupby(level=0).sum()
    top = weight[weight > share * weight.max()].sort_values(ascending=False).index[:6]
    return tuple(names[int(o)] for o in top)
