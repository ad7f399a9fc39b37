"""Reconciling the registry with the audit trail: every tag, alias or artefact changed outside the workbench.

The trail decides each version's governed tags and each model's aliases (:mod:`workbench.governance._state`);
the registry should mirror them exactly. Whatever differs was changed by someone writing to MLflow directly
(a client, the MLflow UI), and is named here so that ``workbench audit verify`` reports it and the server and
``promote`` refuse the version.
"""

from __future__ import annotations

from workbench.governance._audit import AuditTrail
from workbench.governance._state import GOVERNED_TAGS, REGISTERED_TAGS, ModelState, model_state
from workbench.governance._version_store import VersionStore
from workbench.registry import SERVABLE_STATUSES, STATUS_TAG


def version_differences(
    state: ModelState, version: int, registry_tags: dict[str, str], artefact_sha256: str | None = None
) -> list[str]:
    """How one version's registry tags (and artefact, if its hash is given) differ from the trail."""
    name = state.name
    decided = state.version(version, {})
    keys = set(GOVERNED_TAGS) | {k for k in REGISTERED_TAGS if k in state.governed(version)}
    out = []
    for key in sorted(keys):
        trail_value, registry_value = decided.get(key), registry_tags.get(key)
        if trail_value != registry_value:
            out.append(
                f"{name}/{version}: tag {key!r} is {registry_value!r} in the registry but {trail_value!r} in the "
                "audit trail (changed outside the workbench)"
            )
    approved = decided.get("approved_model_sha256")
    if (
        artefact_sha256 is not None
        and approved
        and decided.get(STATUS_TAG) in SERVABLE_STATUSES
        and artefact_sha256 != approved
    ):
        out.append(
            f"{name}/{version}: the artefact's sha256 {artefact_sha256[:12]}... is not the approved "
            f"{approved[:12]}... the audit trail holds (the artefact was changed outside the workbench)"
        )
    return out


def reconcile(store: VersionStore, trail: AuditTrail, name: str | None = None) -> list[str]:
    """Every difference between the registry and the trail, one sentence each (empty when they agree)."""
    records = trail.records()
    out: list[str] = []
    versions = store.versions(name)
    for model in sorted({m for m, _ in versions}):
        state = model_state(records, model)
        for _, version in [v for v in versions if v[0] == model]:
            decided = state.version(version, {})
            servable = decided.get(STATUS_TAG) in SERVABLE_STATUSES and decided.get("approved_model_sha256")
            sha = store.artefact_sha256(model, version) if servable else None
            out += version_differences(state, version, store.tags(model, version), sha)
        for alias in ("champion", "challenger"):
            held, decided_holder = store.alias_holder(model, alias), state.aliases.get(alias)
            if held != decided_holder:
                out.append(
                    f"{model}: alias @{alias} points at version {held} in the registry but at {decided_holder} in "
                    "the audit trail (changed outside the workbench)"
                )
    return out
