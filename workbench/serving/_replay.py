"""Replaying a recorded decision from the registry: same model bytes, same input, same answer?

Replay never uses the server's fast path: it loads the version's artefact from the registry, checks its sha256
against the one on the record, and recomputes score, decision and reason codes with the artefact's own
``predict_proba`` and the shared contribution explainer, from the canonical input on the record. It works for
versions long since archived, because the registry keeps every version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlflow import MlflowClient

from workbench.decision import decision_rule, spec_reason_codes
from workbench.registry import get_version, load_artefact, load_recorded_samples
from workbench.serving._decision_store import DecisionStore, open_decision_store
from workbench.serving._deployment import GenericScorer

SCORE_TOLERANCE = 1e-12
CONTRIBUTION_TOLERANCE = 1e-9


class DecisionNotFoundError(LookupError):
    """No decision with that id in the decision log."""


@dataclass
class Replay:
    """The recorded decision beside its recomputation, and every difference found."""

    decision_id: str
    recorded: dict[str, Any]
    replayed: dict[str, Any]
    differences: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """True when score (to 1e-12), decision, and reasons (features, order, texts; values to 1e-9) agree."""
        return not self.differences


def _compare(recorded: dict[str, Any], replayed: dict[str, Any]) -> list[str]:
    differences = []
    if recorded["model_sha256"] != replayed["model_sha256"]:
        differences.append(
            f"model sha256: recorded {recorded['model_sha256'][:12]}..., registry {replayed['model_sha256'][:12]}..."
        )
    gap = abs(recorded["score"] - replayed["score"])
    if gap > SCORE_TOLERANCE:
        differences.append(f"score: recorded {recorded['score']!r}, replayed {replayed['score']!r} (|diff| {gap:.3g})")
    if recorded["decision"] != replayed["decision"]:
        differences.append(f"decision: recorded {recorded['decision']}, replayed {replayed['decision']}")
    before = [(r["feature"], r["text"]) for r in recorded["reasons"]]
    after = [(r["feature"], r["text"]) for r in replayed["reasons"]]
    if before != after:
        differences.append(f"reasons: recorded {[f for f, _ in before]}, replayed {[f for f, _ in after]}")
    else:
        for old, new in zip(recorded["reasons"], replayed["reasons"], strict=True):
            if abs(old["contribution"] - new["contribution"]) > CONTRIBUTION_TOLERANCE:
                differences.append(
                    f"reason {old['feature']}: contribution recorded {old['contribution']!r}, "
                    f"replayed {new['contribution']!r}"
                )
    return differences


def replay_decision(decision_id: str, client: MlflowClient, decisions: DecisionStore | None = None) -> Replay:
    """Recompute a recorded decision from the registry and compare it with the record."""
    decisions = decisions or open_decision_store()
    recorded = decisions.get(decision_id)
    if recorded is None:
        raise DecisionNotFoundError(f"decision {decision_id!r} is not in the decision store {decisions.url}")
    name, version = recorded["model"], int(recorded["version"])
    entry = get_version(client, name, version)
    model, sha = load_artefact(client, name, version)
    reference = load_recorded_samples(client, name, version, dict(entry.tags), entry.run_id)
    scorer = GenericScorer(model, reference.spec, reference.development)
    scores, contributions = scorer.score([recorded["input"]])
    score = float(scores[0])
    replayed = {
        "model": name,
        "version": version,
        "model_sha256": sha,
        "score": score,
        "decision": decision_rule(reference.spec).label(score),
        "reasons": spec_reason_codes(reference.spec, contributions, [recorded["input"]])[0],
        "method": scorer.method,
    }
    return Replay(decision_id, recorded, replayed, _compare(recorded, replayed))
