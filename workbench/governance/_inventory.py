"""The model inventory: every model and version with its status, tier, owner, findings and review dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from mlflow import MlflowClient

from workbench.policy import REVALIDATION_MONTHS
from workbench.registry import SERVABLE_STATUSES, STATUS_TAG, Status


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months later (clamped to the month's last day)."""
    import calendar

    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _artefact_present(client: MlflowClient, name: str, version: int) -> bool:
    """Whether the registry still holds files at the version's artefact location (listed, not downloaded)."""
    import mlflow

    try:
        location = client.get_model_version_download_uri(name, str(version))
        return bool(mlflow.artifacts.list_artifacts(artifact_uri=location))
    except Exception:  # MLflow raises for a location that is gone
        return False


def _model_kind(client: MlflowClient, version) -> str:
    """The version's model kind: its ``model_kind`` tag, or for a version registered before it, its recorded spec."""
    from workbench.registry import recorded_spec

    if version.tags.get("model_kind"):
        return version.tags["model_kind"]
    try:
        return recorded_spec(client, version.run_id).kind
    except Exception:  # an unreadable record must not hide the rest of the inventory
        return "?"


def _artefact_state(client: MlflowClient, name: str, version: int) -> str:
    return "present" if _artefact_present(client, name, version) else "missing"


def inventory(client: MlflowClient, now: datetime | None = None) -> pd.DataFrame:
    """One row per registered version, newest first within each model; ``overdue`` marks late reviews.

    The next review is due a tier-dependent number of months after the last validation; a version in use
    (approved, production, challenger) that was never validated is overdue at once. ``artefact`` says, for a
    version in use, whether its files are still in the registry (``missing``: the server refuses it).
    """
    now = now or datetime.now(UTC)
    rows = []
    for model in client.search_registered_models():
        aliases = {int(v): a for a, v in (model.aliases or {}).items()}
        for version in client.search_model_versions(f"name='{model.name}'"):
            tags = version.tags
            tier = int(tags.get("risk_tier", 3) or 3)
            validated = _parse(tags.get("validation_date"))
            due = add_months(validated, REVALIDATION_MONTHS.get(tier, 36)) if validated else None
            status = tags.get(STATUS_TAG, Status.DEVELOPMENT)
            in_use = status in SERVABLE_STATUSES
            open_findings = {k: int(tags.get(f"open_findings_{k}", 0) or 0) for k in ("high", "medium", "low")}
            rows.append(
                {
                    "model": model.name,
                    "version": int(version.version),
                    "kind": _model_kind(client, version),
                    "status": status,
                    "alias": aliases.get(int(version.version), ""),
                    "risk_tier": tier,
                    "owner": tags.get("owner", ""),
                    "developed_by": tags.get("developed_by", ""),
                    "validated_by": tags.get("validated_by", ""),
                    "approved_by": tags.get("approved_by", ""),
                    "last_validation": validated.date().isoformat() if validated else "",
                    "open_high": open_findings["high"],
                    "open_medium": open_findings["medium"],
                    "open_low": open_findings["low"],
                    "next_review_due": due.date().isoformat() if due else ("now" if in_use else ""),
                    "overdue": bool((due is not None and due < now) or (due is None and in_use)),
                    "artefact": _artefact_state(client, model.name, int(version.version)) if in_use else "",
                }
            )
    columns = [
        "model",
        "version",
        "kind",
        "status",
        "alias",
        "risk_tier",
        "owner",
        "developed_by",
        "validated_by",
        "approved_by",
        "last_validation",
        "open_high",
        "open_medium",
        "open_low",
        "next_review_due",
        "overdue",
        "artefact",
    ]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["model", "version"], ascending=[True, False]).reset_index(drop=True)
