"""Fairness assessment of a registered version on its validation sample, and the findings it raises."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.fairness._assessment import (
    INTERSECTION_SEPARATOR,
    NO_PROTECTED_STATEMENT,
    TOO_FEW,
    FairnessReport,
    assess_attribute,
    group_name,
    intersection,
    named_groups,
    outcome_rates,
)
from workbench.fairness._proxies import proxy_associations, proxy_screen
from workbench.findings import Finding, figure_png, new_figure
from workbench.spec import group_labels
from workbench.validation import ValidationContext

PROXY_WARN_AUC = 0.70
PROXY_FAIL_AUC = 0.80
#: The proxy screen fits five classifiers per group; on big data a seeded sample of this many rows is enough.
PROXY_SCREEN_ROWS = 50_000


def assess_fairness(ctx: ValidationContext, n_boot: int = 500) -> FairnessReport:
    """Every protected attribute and their intersection, plus the proxy screen and historical outcome rates.

    With no protected attribute nothing is assessed for disparate impact (the report says so); the proxy
    screen still runs on the spec's ``fairness.screening_attributes``.
    """
    spec = ctx.spec
    protected = spec.protected_attributes
    min_size = spec.fairness.min_group_size
    groups = ctx.groups("validation")
    declined = ctx.decisions
    attributes = []
    for attribute in protected:
        attributes.append(
            assess_attribute(
                attribute.name,
                ctx.y_val,
                declined,
                named_groups(attribute.name, groups[attribute.name]),
                group_name(attribute.name, attribute.reference),
                n_boot=n_boot,
                seed=spec.split.seed,
                min_group_size=min_size,
            )
        )
    if len(protected) > 1:
        reference = INTERSECTION_SEPARATOR.join(group_name(a.name, a.reference) for a in protected)
        name = INTERSECTION_SEPARATOR.join(a.name for a in protected)
        attributes.append(
            assess_attribute(
                name,
                ctx.y_val,
                declined,
                intersection(groups),
                reference,
                n_boot=n_boot,
                seed=spec.split.seed,
                min_group_size=min_size,
            )
        )
    frame = ctx.data.frame
    screened = {a.name: group_labels(frame[a.data_column]).to_numpy() for a in protected}
    screened |= {column: group_labels(frame[column]).to_numpy() for column in spec.fairness.screening_attributes}
    all_groups = pd.DataFrame(screened, index=frame.index)
    screen_rows = np.arange(len(all_groups))
    if len(screen_rows) > PROXY_SCREEN_ROWS:
        screen_rows = np.sort(np.random.default_rng(spec.split.seed).choice(screen_rows, PROXY_SCREEN_ROWS, False))
    inputs, screen_groups = ctx.inputs.iloc[screen_rows], all_groups.iloc[screen_rows]
    associations = proxy_associations(inputs, screen_groups, spec.features.numeric)
    proxies = proxy_screen(
        inputs,
        screen_groups,
        spec.features.numeric,
        spec.features.categorical,
        seed=spec.split.seed,
        min_category_count=spec.thresholds.min_category_count,
        associations=associations,
    )
    good = 1 - ctx.target
    observed = {
        a.name: outcome_rates(good, named_groups(a.name, all_groups[a.name]), group_name(a.name, a.reference))
        for a in protected
    }
    return FairnessReport(
        attributes=attributes,
        proxies=proxies,
        floor=spec.thresholds.disparate_impact_floor,
        cutoff=ctx.rule.threshold,
        observed=observed,
        min_group_size=min_size,
        protected=[a.name for a in protected],
        screening=list(spec.fairness.screening_attributes),
        no_protected_reason=spec.fairness.no_protected_attributes_reason,
        proxy_features=associations,
    )


def _no_protected_finding(report: Any) -> Finding:
    reason = getattr(report, "no_protected_reason", None)
    screening = getattr(report, "screening", [])
    screened = (
        f" The proxy screen ran on the screening attribute(s) {', '.join(screening)}."
        if screening
        else " No screening attribute was given either, so not even a proxy screen could run."
    )
    return Finding(
        finding_id="F-fairness.no_protected_attributes",
        source="fairness.protected_attributes",
        severity="low" if reason else "medium",
        title="No protected attribute: disparate impact could not be assessed",
        detail=NO_PROTECTED_STATEMENT
        + (f" Justification recorded in the spec: {reason}" if reason else " The spec records no justification.")
        + screened,
        remediation="Provide the protected attributes (or supervisory proxies of them, e.g. BISG estimates of race "
        "and ethnicity, and age bands) and re-validate; or record why none can be used in "
        "fairness.no_protected_attributes_reason.",
    )


def _too_few_finding(item: Any) -> Finding | None:
    small = item.too_few
    if not small:
        return None
    counts = ", ".join(f"{g} ({item.count(g)})" for g in small)
    if item.reference in small:
        verdict = f"the reference group {item.reference} is among them, so {item.attribute} could not be assessed"
    elif not np.isfinite(item.disparate_impact):
        verdict = f"no other group is large enough, so {item.attribute} could not be assessed"
    else:
        verdict = "their approval rates are shown but take no part in the ratios, differences and intervals"
    return Finding(
        finding_id=f"F-fairness.too_few.{item.attribute}",
        source="fairness.min_group_size",
        severity="low",
        title=f"{len(small)} group(s) of {item.attribute} too few to assess",
        detail=f"fewer than {item.min_group_size} validation applicants: {counts}; {verdict}",
        remediation="Judge these groups on more data (a larger or later sample, or pooled monitoring periods); "
        "do not read their rates as evidence either way.",
    )


def _unique_ids(findings: list[Finding]) -> list[Finding]:
    """Every finding id once: a repeat (which the ids above should never make) gets a numbered suffix."""
    seen: dict[str, int] = {}
    for finding in findings:
        base = finding.finding_id
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            finding.finding_id = f"{base}#{seen[base]}"
    return findings


def fairness_findings(report: FairnessReport, alternatives: Any = None) -> list[Finding]:
    """A breach of the four-fifths floor is high severity; an interval reaching below it, medium; proxies too.

    Groups too few to assess raise at most a low finding; no protected attribute is a medium finding (low when
    the spec records why); a less discriminatory alternative of comparable performance (from
    :func:`workbench.fairness.search_alternatives`) is a medium finding. Every id is unique and stable: it
    names the attribute (and the group, for a proxy).
    """
    findings = []
    if not report.attributes:
        findings.append(_no_protected_finding(report))
    for item in report.attributes:
        low = item.disparate_impact_ci[0]
        small = _too_few_finding(item)
        if small is not None:
            findings.append(small)
        if not np.isfinite(item.disparate_impact):
            continue
        if item.disparate_impact < report.floor:
            severity, verdict = "high", "breaches"
        elif np.isfinite(low) and low < report.floor:
            severity, verdict = "medium", "may breach"
        else:
            continue
        sizes = f" ({item.count(item.worst_group)} and {item.count(item.reference)} validation applicants)"
        findings.append(
            Finding(
                finding_id=f"F-fairness.disparate_impact.{item.attribute}",
                source="fairness.disparate_impact",
                severity=severity,
                title=f"Disparate impact for {item.attribute} {verdict} the four-fifths floor",
                detail=(
                    f"approval-rate ratio of {item.worst_group} to {item.reference}{sizes} is "
                    f"{item.disparate_impact:.3f} (95% CI {item.disparate_impact_ci[0]:.3f}-"
                    f"{item.disparate_impact_ci[1]:.3f}) against a floor of {report.floor}"
                ),
                remediation="Review the drivers of the gap for business justification and less discriminatory "
                "alternatives (e.g. a different cut-off or feature set); document the decision.",
            )
        )
    screening = set(getattr(report, "screening", []))
    for row in report.proxies.itertuples():
        if row.proxy_auc < PROXY_WARN_AUC:
            continue
        kind = "screening attribute" if row.attribute in screening else "protected attribute"
        findings.append(
            Finding(
                finding_id=f"F-fairness.proxy.{row.group}",
                source="fairness.proxy_screen",
                severity="medium" if row.proxy_auc >= PROXY_FAIL_AUC else "low",
                title=f"Model inputs act as a proxy for {row.group}",
                detail=f"the inputs predict {row.group} ({kind}) with AUC {row.proxy_auc:.3f}; strongest: "
                f"{row.top_proxies}",
                remediation="Assess whether the proxy inputs are justified by business necessity.",
            )
        )
    if alternatives is not None:
        finding = alternatives.finding()
        if finding is not None:
            findings.append(finding)
    return _unique_ids(findings)


def approval_figure(report: FairnessReport) -> bytes | None:
    """Per attribute: approval rate by group (top) and each group's ratio to the reference (bottom).

    The top row marks the floor times the reference group's rate; the bottom row shows the ratios the
    four-fifths rule judges, with the worst group's 95% bootstrap interval as an error bar, the floor dashed
    and parity at 1. Groups too few to assess are drawn grey and hatched; with no protected attribute there
    is no figure (None).
    """
    if not report.attributes:
        return None
    n = len(report.attributes)
    fig, axes = new_figure(2, n, figsize=(3.6 * n, 6.2), squeeze=False, sharex="col")
    for column, item in enumerate(report.attributes):
        rates_axis, ratio_axis = axes[0][column], axes[1][column]
        table = item.groups
        labels = table["group"].astype(str).tolist()
        too_few = (table["count"] < item.min_group_size).to_numpy()
        colors = [
            "#bbbbbb" if small else "#4c72b0" if g == item.reference else "#dd8452"
            for g, small in zip(table["group"], too_few, strict=True)
        ]
        bars = rates_axis.bar(labels, table["approval_rate"], color=colors)
        for bar, small in zip(bars, too_few, strict=True):
            if small:
                bar.set_hatch("//")
        reference_rate = float(table.loc[table["group"] == item.reference, "approval_rate"].iloc[0])
        rates_axis.axhline(
            reference_rate * report.floor,
            color="red",
            linestyle="--",
            linewidth=1,
            label=f"{report.floor:.0%} of reference",
        )
        handles, _ = rates_axis.get_legend_handles_labels()
        if too_few.any():
            from matplotlib.patches import Patch

            handles.append(Patch(facecolor="#bbbbbb", hatch="//", label=f"{TOO_FEW} (< {item.min_group_size})"))
        rates_axis.set(title=item.attribute, ylim=(0, 1), ylabel="approval rate")
        rates_axis.legend(handles=handles, fontsize=7)
        ratios = (
            table["approval_rate"] / reference_rate if reference_rate > 0 else table["approval_rate"] * float("nan")
        )
        ratio_axis.scatter(labels, ratios, color=colors, zorder=3)
        if item.assessed and item.worst_group in labels:
            low, high = item.disparate_impact_ci
            ratio_axis.errorbar(
                [labels.index(item.worst_group)],
                [item.disparate_impact],
                yerr=[[item.disparate_impact - low], [high - item.disparate_impact]],
                fmt="none",
                ecolor="#333333",
                capsize=4,
                label="worst group, 95% CI",
            )
        ratio_axis.axhline(report.floor, color="red", linestyle="--", linewidth=1, label=f"floor {report.floor}")
        ratio_axis.axhline(1.0, color="#555555", linewidth=0.8)
        ratio_axis.set(ylabel="ratio to reference", ylim=(0, max(1.5, float(ratios.max(skipna=True) or 0) + 0.1)))
        ratio_axis.tick_params(axis="x", rotation=30, labelsize=7)
        ratio_axis.legend(fontsize=7)
    fig.tight_layout()
    return figure_png(fig)
