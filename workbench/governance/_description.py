"""The registered version's description in MLflow: the key facts a user looks for there, in a few lines.

MLflow's version page shows the description in full but only the first few tags, alphabetically, so status,
the people who acted, the validation outcome and where the documents are would otherwise be out of sight.
The description is part of the mirror the workbench writes from the audit trail: an edit made in MLflow's
UI changes nothing the workbench decides on.
"""

from __future__ import annotations

from collections.abc import Mapping

#: the description's last line: where the truth lives
TRUST_LINE = (
    "Written by MRM Workbench from its audit trail; edits here decide nothing and tags changed here are reported "
    "by `workbench audit verify`."
)


def version_description(name: str, version: int, tags: Mapping[str, str], aliases: list[str]) -> str:
    """Markdown lines: status and aliases, who developed, validated, approved and deployed, the findings, the
    documents, the artefact's hash."""
    status = tags.get("status", "unknown")
    shown_aliases = " ".join(f"@{a}" for a in sorted(aliases))
    lines = [f"**{name} v{version}: {status}**" + (f" ({shown_aliases})" if shown_aliases else "")]
    people = [
        f"developed by {tags['developed_by']}" if tags.get("developed_by") else "",
        f"validated by {tags['validated_by']} ({tags.get('validation_outcome', 'no outcome yet')})"
        if tags.get("validated_by")
        else "not validated yet",
        f"approved by {tags['approved_by']} on {tags.get('approval_date', '')[:10]}" if tags.get("approved_by") else "",
        f"deployed by {tags['deployed_by']}" if tags.get("deployed_by") else "",
    ]
    lines.append(" · ".join(p for p in people if p))
    if tags.get("approval_conditions"):
        lines.append(f"conditions: {tags['approval_conditions']}")
    if tags.get("approval_override"):
        lines.append(f"approved by override: {tags['approval_override']}")
    counts = [tags.get(f"open_findings_{k}") for k in ("high", "medium", "low")]
    if any(c is not None for c in counts):
        high, medium, low = (c or "0" for c in counts)
        lines.append(f"open findings: {high} high, {medium} medium, {low} low")
    if tags.get("documents_run_id"):
        run = tags["documents_run_id"]
        lines.append(f"documents: artifacts under documents/ of run {run} (`workbench document {name} {version}`)")
    if tags.get("model_sha256"):
        lines.append(f"artefact sha256 {tags['model_sha256']}")
    lines.append(TRUST_LINE)
    return "\n\n".join(lines)
