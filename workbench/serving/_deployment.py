"""Loading a registered version for serving: only approved artefacts whose bytes are the approved bytes.

The artefact and the recorded samples come from the registry (:func:`workbench.registry.load_artefact`,
:func:`workbench.registry.load_recorded_samples`): the spec gives the input contract, the development sample
the background for contributions, and the validation sample is where the fast scoring path must equal the
artefact's own ``predict_proba``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.pipeline import Pipeline

from workbench.decision import DecisionRule, decision_rule
from workbench.explain import ContributionExplainer
from workbench.registry import (
    SERVABLE_STATUSES,
    STATUS_TAG,
    RecordMismatchError,
    get_version,
    load_artefact,
    load_recorded_samples,
)
from workbench.serving._compiled import CompiledScorer, NotCompilable
from workbench.serving._inputs import InputSchema
from workbench.spec import ModelSpec

log = logging.getLogger("workbench.serving")

MAX_SCORE_DIFFERENCE = 1e-12
MAX_CONTRIBUTION_DIFFERENCE = 1e-9


class DeploymentError(RuntimeError):
    """A version the server refuses to load, with the reason."""


class Scorer(Protocol):
    """Scores and per-feature contributions (log-odds) for canonical input rows."""

    method: str

    def score(self, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]: ...


class GenericScorer:
    """The artefact's own ``predict_proba`` and the shared contribution explainer (pandas per request)."""

    def __init__(self, model: Pipeline, spec: ModelSpec, background: pd.DataFrame) -> None:
        self.model = model
        self.features = list(spec.features.all)
        self.numeric = set(spec.features.numeric)
        self.explainer = ContributionExplainer(model, spec, background)
        self.method = f"generic (predict_proba; {self.explainer.method})"

    def frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """Rows as the model's input frame (numbers as float64, categories as text)."""
        frame = pd.DataFrame(rows, columns=self.features)
        for name in self.numeric:
            frame[name] = frame[name].astype("float64")
        return frame

    def score(self, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities of the adverse outcome and contributions per raw feature."""
        frame = self.frame(rows)
        return self.model.predict_proba(frame)[:, 1], self.explainer.contributions(frame).to_numpy()


@dataclass
class Deployment:
    """One loaded version: its identity, contract, scorer and reference scores."""

    name: str
    version: int
    model_sha256: str
    spec: ModelSpec
    schema: InputSchema
    scorer: Scorer
    path: str
    path_check: dict[str, Any]
    reference_scores: np.ndarray
    tags: dict[str, str] = field(default_factory=dict)

    @cached_property
    def rule(self) -> DecisionRule:
        """The spec's decision rule (the one definition every path uses)."""
        return decision_rule(self.spec)

    def describe(self) -> dict[str, Any]:
        """What /health reports about this version."""
        return {
            "name": self.name,
            "version": self.version,
            "model_sha256": self.model_sha256,
            "status": self.tags.get(STATUS_TAG),
            "scoring_path": self.path,
            "method": self.scorer.method,
            "path_check": self.path_check,
        }


def _servable(name: str, version: int, tags: dict[str, str]) -> None:
    """Serve only what the audit trail approved, and only while the registry mirrors the trail exactly.

    The trail (verified under the audit key) decides the status and the approved artefact sha256; a tag or
    alias set directly in MLflow (a client, the MLflow UI) is refused with what was changed.
    """
    from workbench.governance import AuditIntegrityError, AuditTrail, model_state, version_differences

    try:
        state = model_state(AuditTrail().verified_records(f"{name}/"), name)
    except AuditIntegrityError as error:
        raise DeploymentError(f"{name}/{version}: refusing to serve: {error}") from None
    differences = version_differences(state, version, tags)
    if differences:
        raise DeploymentError(
            f"{name}/{version}: refusing to serve: the registry differs from the approved state the audit trail "
            "holds (changed outside the workbench): " + "; ".join(differences)
        )
    decided = state.version(version, tags)
    status = decided.get(STATUS_TAG, "")
    if status not in SERVABLE_STATUSES or not decided.get("approved_model_sha256"):
        raise DeploymentError(
            f"{name}/{version} is {status or 'without a status'} and has no approval on record in the audit "
            "trail; only approved versions are served"
        )


def _worst(found: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(found - expected).max())


def _choose_scorer(
    model: Pipeline, spec: ModelSpec, inputs: pd.DataFrame, development: pd.DataFrame, validation: pd.DataFrame
) -> tuple[Scorer, str, dict[str, Any]]:
    """The compiled path when it equals the artefact on the whole validation sample, else the generic one."""
    generic = GenericScorer(model, spec, development)
    levels = {name: sorted(str(v) for v in inputs[name].dropna().unique()) for name in spec.features.categorical}
    rows = validation.astype(object).where(validation.notna(), None).to_dict("records")
    expected_scores, expected_contributions = generic.score(rows)
    try:
        compiled = CompiledScorer(
            model, list(spec.features.numeric), list(spec.features.categorical), levels, development
        )
        scores, contributions = compiled.score(rows)
        # one row at a time too: a single application (the common request) takes a path of its own
        singly = [compiled.score([row]) for row in rows]
    except NotCompilable as reason:
        log.warning("serving %s through the generic path: %s", spec.name, reason)
        return generic, "generic", {"compiled": False, "reason": str(reason)}
    # the worst difference over both ways of scoring
    score_difference = max(
        _worst(scores, expected_scores), _worst(np.concatenate([s for s, _ in singly]), expected_scores)
    )
    contribution_difference = max(
        _worst(contributions, expected_contributions),
        _worst(np.vstack([c for _, c in singly]), expected_contributions),
    )
    check = {
        "rows": len(rows),
        "scored": "all rows at once and each row alone",
        "max_score_difference": score_difference,
        "max_contribution_difference": contribution_difference,
        "score_limit": MAX_SCORE_DIFFERENCE,
        "contribution_limit": MAX_CONTRIBUTION_DIFFERENCE,
    }
    if score_difference > MAX_SCORE_DIFFERENCE or contribution_difference > MAX_CONTRIBUTION_DIFFERENCE:
        log.warning("compiled path differs from the artefact (%s); serving %s generically", check, spec.name)
        return generic, "generic", {"compiled": False, **check}
    return compiled, "compiled", {"compiled": True, **check}


def load_deployment(client: MlflowClient, name: str, version: int, *, compile_path: bool = True) -> Deployment:
    """Load an approved version whose artefact hashes to the approved sha256, ready to score."""
    record = get_version(client, name, version)
    tags = dict(record.tags)
    _servable(name, version, tags)  # the trail approved it and the tags mirror the trail
    try:  # the bytes are hashed and checked before anything is deserialised
        model, sha = load_artefact(client, name, version, expected_sha256=tags["approved_model_sha256"])
    except RecordMismatchError as error:
        raise DeploymentError(str(error)) from None
    if sha != tags["approved_model_sha256"]:
        raise DeploymentError(
            f"{name}/{version}: the artefact's sha256 {sha[:12]}... differs from the approved "
            f"{tags['approved_model_sha256'][:12]}...; refusing to serve a changed model"
        )
    try:
        ref = load_recorded_samples(client, name, version, tags, record.run_id)
    except RecordMismatchError as error:
        raise DeploymentError(str(error)) from None
    if compile_path:
        scorer, path, check = _choose_scorer(model, ref.spec, ref.inputs, ref.development, ref.validation)
    else:
        scorer, path, check = GenericScorer(model, ref.spec, ref.development), "generic", {"compiled": False}
    log.info("loaded %s/%s (sha256 %s...) on the %s path", name, version, sha[:12], path)
    return Deployment(
        name=name,
        version=int(version),
        model_sha256=sha,
        spec=ref.spec,
        schema=InputSchema.from_data(ref.spec, ref.inputs),
        scorer=scorer,
        path=path,
        path_check=check,
        reference_scores=model.predict_proba(ref.validation)[:, 1],
        tags=tags,
    )
