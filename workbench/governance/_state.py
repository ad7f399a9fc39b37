"""A version's lifecycle state as the audit trail decides it: the fold of its accepted records' changes.

Every accepted record states the registry change it makes (``details.apply``: tags of its target version and
the model's aliases). Status, approvals with their artefact sha256, findings and their counts, and who holds
``@champion`` and ``@challenger`` are whatever those records, in order, add up to; MLflow's tags and aliases
are only a mirror written from them, so a tag changed in the MLflow UI changes nothing the workbench decides
and is reported by ``workbench audit verify``. Tags the trail never governs (the training provenance written
at registration) are read from the registry, except the ones registration records, which come from the trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.registry import STATUS_TAG, Status

#: Tags only the trail may set; a registry value of these the trail does not hold was changed outside.
GOVERNED_TAGS = frozenset(
    {
        STATUS_TAG,
        "validated_by",
        "validation_date",
        "validation_outcome",
        "validation_run_id",
        "open_findings_high",
        "open_findings_medium",
        "open_findings_low",
        "approved_by",
        "approval_date",
        "approved_model_sha256",
        "approval_comment",
        "approval_conditions",
        "approval_override",
        "override_finding",
        "rejected_by",
        "rejection_date",
        "rejection_comment",
        "champion_since",
        "challenger_since",
        "deployed_by",
    }
)
#: Tags registration records in the trail (the developer and the artefact's hash at registration).
REGISTERED_TAGS = ("developed_by", "model_sha256")


@dataclass
class ModelState:
    """A model's versions' trail-decided tags and its aliases."""

    name: str
    tags: dict[int, dict[str, str]] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    last_seq: int = 0

    def version(self, version: int, registry_tags: Mapping[str, str] | None = None) -> dict[str, str]:
        """The version's tags: provenance from the registry, everything governed from the trail."""
        base = {k: v for k, v in (registry_tags or {}).items() if k not in GOVERNED_TAGS}
        decided = self.tags.get(int(version), {})
        if any(k in decided for k in REGISTERED_TAGS):
            base = {k: v for k, v in base.items() if k not in REGISTERED_TAGS}
        return {STATUS_TAG: Status.DEVELOPMENT, **base, **decided}

    def governed(self, version: int) -> dict[str, str]:
        """Only what the trail holds for the version."""
        return dict(self.tags.get(int(version), {}))


def changes_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The registry change an accepted record makes (empty for refusals and records without one)."""
    if record.get("outcome") != "accepted":
        return {}
    details = record.get("details") or {}
    apply = details.get("apply") if isinstance(details, Mapping) else None
    return apply if isinstance(apply, dict) else {}


def split_target(target: str) -> tuple[str, int] | None:
    """("model", version) of a record's target, None for targets that are not versions."""
    name, _, version = str(target).rpartition("/")
    return (name, int(version)) if name and version.isdigit() else None


def model_state(records: Iterable[Mapping[str, Any]], name: str) -> ModelState:
    """Fold one model's accepted records, oldest first."""
    state = ModelState(name)
    for record in records:
        target = split_target(str(record.get("target", "")))
        if target is None or target[0] != name:
            continue
        state.last_seq = max(state.last_seq, int(record.get("seq", 0)))
        apply = changes_of(record)
        if not apply:
            continue
        state.tags.setdefault(target[1], {}).update({k: str(v) for k, v in (apply.get("tags") or {}).items()})
        for alias, holder in (apply.get("aliases") or {}).items():
            if holder is None:
                state.aliases.pop(alias, None)
            else:
                state.aliases[alias] = int(holder)
    return state
