"""Fitting the spec's candidates on the development sample and choosing the champion.

Selection uses cross-validation on the development sample only; the validation sample is scored once,
for the record, and is left for the independent validator. The same function serves the training notebook
and ``workbench reproduce``, so a reproduction runs exactly the code that trained the version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from workbench.data import AliasedFeature, ModelData, Split, adverse_target, aliased_features, make_split, model_inputs
from workbench.decision import DecisionRule, decision_rule, fitted_rule, with_fitted_cutoff
from workbench.estimators import FAMILIES, column_owners
from workbench.spec import ModelSpec, without_features
from workbench.stats import performance_summary


class TrainingError(ValueError):
    """No candidate could be fitted; the message names each candidate and why."""


@dataclass(frozen=True)
class FailedCandidate:
    """A candidate that could not be fitted on this data, with the reason."""

    family: str
    reason: str


def _estimation(pipeline: Pipeline, spec: ModelSpec) -> str:
    """How the estimator was fitted, naming the features whose separation forced a penalised fit."""
    estimator = pipeline.named_steps["model"]
    how = getattr(estimator, "estimation_", "")
    columns = list(getattr(estimator, "separating_columns_", []))
    if not columns:
        return how
    owners = column_owners(pipeline.named_steps["preprocess"], list(spec.features.all))
    names = pipeline.named_steps["preprocess"].get_feature_names_out()
    separating = sorted({spec.features.all[owners[j]] for j in columns})
    levels = ", ".join(str(names[j]).split("__", 1)[-1] for j in columns[:6])
    return f"{how}: the outcome is separated by {', '.join(separating)} ({levels})"


@dataclass
class CandidateResult:
    """One fitted candidate with its cross-validated and holdout performance."""

    family: str
    interpretable: bool
    pipeline: Pipeline
    cv_auc: np.ndarray
    development: dict[str, float]
    validation: dict[str, float]
    estimation: str = ""

    def row(self) -> dict[str, Any]:
        """A row of the candidates table."""
        return {
            "family": self.family,
            "estimation": self.estimation,
            "interpretable": self.interpretable,
            "cv_auc_mean": float(self.cv_auc.mean()),
            "cv_auc_std": float(self.cv_auc.std(ddof=1)),
            "development_auc": self.development["auc"],
            "validation_auc": self.validation["auc"],
            "validation_gini": self.validation["gini"],
            "validation_ks": self.validation["ks"],
        }


@dataclass
class TrainingResult:
    """Everything training produced: the chosen artefact, the evidence for choosing it, and the split."""

    spec: ModelSpec
    data_sha256: str
    split: Split
    candidates: list[CandidateResult]
    chosen: str
    selection_reason: str
    model: Pipeline
    validation_inputs: pd.DataFrame
    validation_target: np.ndarray
    aliased: list[AliasedFeature] = field(default_factory=list)
    failed: list[FailedCandidate] = field(default_factory=list)
    coefficients: pd.DataFrame | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def candidates_table(self) -> pd.DataFrame:
        """Candidates side by side, the chosen one marked, failed ones with their reason."""
        rows = [c.row() for c in self.candidates] + [{"family": f.family, "failed": f.reason} for f in self.failed]
        table = pd.DataFrame(rows)
        table["chosen"] = table["family"] == self.chosen
        return table

    def validation_scores(self) -> np.ndarray:
        """The registered artefact's probability of the adverse outcome on the validation sample."""
        return self.model.predict_proba(self.validation_inputs)[:, 1]


def _choose(candidates: list[CandidateResult], margin: float) -> tuple[CandidateResult, str]:
    best = max(candidates, key=lambda c: c.cv_auc.mean())
    interpretable = [c for c in candidates if c.interpretable]
    if not interpretable or best.interpretable:
        return best, f"{best.family} has the highest cross-validated AUC ({best.cv_auc.mean():.4f})"
    simple = max(interpretable, key=lambda c: c.cv_auc.mean())
    gain = best.cv_auc.mean() - simple.cv_auc.mean()
    if gain > margin:
        return best, (
            f"{best.family} beats the interpretable {simple.family} by {gain:.4f} cross-validated AUC, "
            f"more than the {margin} margin"
        )
    return simple, (
        f"{simple.family} is kept: {best.family} gains only {gain:.4f} cross-validated AUC, "
        f"within the {margin} margin that favours the interpretable model"
    )


def _artefact(candidate: CandidateResult) -> Pipeline:
    """The registered pipeline: the scorecard's estimator is swapped for an identical scikit-learn one."""
    estimator = candidate.pipeline.named_steps["model"]
    if hasattr(estimator, "to_sklearn"):
        return Pipeline(
            [("preprocess", candidate.pipeline.named_steps["preprocess"]), ("model", estimator.to_sklearn())]
        )
    return candidate.pipeline


def _drop_aliased(spec: ModelSpec, x_dev: pd.DataFrame) -> tuple[ModelSpec, list[AliasedFeature]]:
    """The spec without the features the others determine exactly on the development sample."""
    found = aliased_features(
        x_dev,
        list(spec.features.numeric),
        list(spec.features.categorical),
        min_category_count=spec.thresholds.min_category_count,
        seed=spec.split.seed,
    )
    dropped = [a.feature for a in found if a.kind == "aliased"]
    if len(dropped) == len(spec.features.all):
        raise ValueError("features: every feature is constant or determined by the others; nothing is left to fit")
    return (without_features(spec, dropped) if dropped else spec), found


def train(data: ModelData, spec: ModelSpec) -> TrainingResult:
    """Fit every candidate, choose one, and return the artefact with its evidence.

    Features that the others determine exactly on the development sample are dropped first (see
    :mod:`workbench.data` aliasing); the result's ``spec`` is the spec actually fitted, which is what the
    registry records, so serving, validation and reproduction all use the same features.
    """
    frame = data.frame
    split = make_split(frame, spec)
    y = adverse_target(frame, spec).to_numpy().astype(int)
    spec, aliased = _drop_aliased(spec, model_inputs(frame, spec).iloc[split.development])
    inputs = model_inputs(frame, spec)
    x_dev, y_dev = inputs.iloc[split.development], y[split.development]
    x_val, y_val = inputs.iloc[split.validation], y[split.validation]
    folds = StratifiedKFold(n_splits=spec.selection.cv_folds, shuffle=True, random_state=spec.split.seed)

    candidates: list[CandidateResult] = []
    failed: list[FailedCandidate] = []
    days = _development_days(frame, spec, split)
    for candidate in spec.candidates:
        family = FAMILIES[candidate.family]
        pipeline = family.build(
            spec.features.numeric,
            spec.features.categorical,
            min_category_count=spec.thresholds.min_category_count,
            seed=spec.split.seed,
            **candidate.params,
        )
        try:
            cv_auc = cross_val_score(clone(pipeline), x_dev, y_dev, cv=folds, scoring="roc_auc", error_score="raise")
            pipeline.fit(x_dev, y_dev)
        except (ValueError, ArithmeticError, RuntimeError, np.linalg.LinAlgError) as error:
            # one candidate that cannot be fitted on this data must not stop the others
            failed.append(FailedCandidate(candidate.family, f"{type(error).__name__}: {error}"))
            continue
        p_dev = pipeline.predict_proba(x_dev)[:, 1]
        # where training sets the threshold (an alert budget, a contact share), a candidate is judged at its own
        own_rule = fitted_rule(spec, p_dev, days)
        candidates.append(
            CandidateResult(
                family=candidate.family,
                interpretable=family.interpretable,
                pipeline=pipeline,
                cv_auc=cv_auc,
                development=_summary(y_dev, p_dev, own_rule),
                validation=_summary(y_val, pipeline.predict_proba(x_val)[:, 1], own_rule),
                estimation=_estimation(pipeline, spec),
            )
        )
    if not candidates:
        raise TrainingError("no candidate could be fitted: " + "; ".join(f"{f.family}: {f.reason}" for f in failed))

    chosen, reason = _choose(candidates, spec.selection.prefer_interpretable_within)
    model = _artefact(chosen)
    spec = with_fitted_cutoff(spec, model.predict_proba(x_dev)[:, 1], days)
    result = TrainingResult(
        spec=spec,
        data_sha256=data.sha256,
        split=split,
        candidates=candidates,
        chosen=chosen.family,
        selection_reason=reason,
        model=model,
        validation_inputs=x_val,
        validation_target=y_val,
        aliased=aliased,
        failed=failed,
    )
    scorecards = [c for c in candidates if hasattr(c.pipeline.named_steps["model"], "coefficient_table")]
    if scorecards:
        fitted = scorecards[0].pipeline
        names = list(fitted.named_steps["preprocess"].get_feature_names_out())
        result.coefficients = fitted.named_steps["model"].coefficient_table(names)
    result.metrics = _metrics(result, chosen)
    return result


def _development_days(frame: pd.DataFrame, spec: ModelSpec, split: Split) -> float:
    """Days the development sample spans (alerts per day need it); 1 when the spec has no event time."""
    if spec.event_time is None or spec.event_time not in frame.columns:
        return 1.0
    times = pd.to_datetime(frame[spec.event_time].iloc[split.development], utc=True)
    return max((times.max() - times.min()) / pd.Timedelta(days=1), 1.0)


def _summary(y: np.ndarray, scores: np.ndarray, rule: DecisionRule) -> dict[str, float]:
    return performance_summary(y, scores, rule.favourable_rate(scores))


def _metrics(result: TrainingResult, chosen: CandidateResult) -> dict[str, float]:
    metrics: dict[str, float] = {
        "cv_auc_mean": float(chosen.cv_auc.mean()),
        "cv_auc_std": float(chosen.cv_auc.std(ddof=1)),
        "n_development": float(len(result.split.development)),
        "n_validation": float(len(result.split.validation)),
    }
    for sample in ("development", "validation"):
        for key, value in getattr(chosen, sample).items():
            metrics[f"{sample}_{key}"] = value
    # the artefact itself, not the fitting estimator, is what is registered: record its own holdout AUC
    artefact_summary = _summary(result.validation_target, result.validation_scores(), decision_rule(result.spec))
    metrics["artefact_validation_auc"] = artefact_summary["auc"]
    for candidate in result.candidates:
        metrics[f"candidate.{candidate.family}.cv_auc_mean"] = float(candidate.cv_auc.mean())
        metrics[f"candidate.{candidate.family}.validation_auc"] = candidate.validation["auc"]
    return metrics
