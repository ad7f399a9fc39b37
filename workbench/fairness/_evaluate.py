"""Fairness assessment of a registered version on its validation sample, and the findings it raises."""

from __future__ import annotations

import numpy as np

from workbench.fairness._assessment import (
    INTERSECTION_SEPARATOR,
    FairnessReport,
    assess_attribute,
    intersection,
    outcome_rates,
)
from workbench.fairness._proxies import proxy_screen
from workbench.findings import figure_png, new_figure
from workbench.validation import Finding, ValidationContext

PROXY_WARN_AUC = 0.70
PROXY_FAIL_AUC = 0.80
#: The proxy screen fits five classifiers per group; on big data a seeded sample of this many rows is enough.
PROXY_SCREEN_ROWS = 50_000


def assess_fairness(ctx: ValidationContext, n_boot: int = 500) -> FairnessReport:
    """Every protected attribute and their intersection, plus the proxy screen and historical outcome rates."""
    spec = ctx.spec
    groups = ctx.groups("validation")
    declined = ctx.decisions
    attributes = []
    for attribute in spec.protected_attributes:
        attributes.append(
            assess_attribute(
                attribute.name,
                ctx.y_val,
                declined,
                groups[attribute.name],
                attribute.reference,
                n_boot=n_boot,
                seed=spec.split.seed,
            )
        )
    if len(spec.protected_attributes) > 1:
        reference = INTERSECTION_SEPARATOR.join(a.reference for a in spec.protected_attributes)
        name = INTERSECTION_SEPARATOR.join(a.name for a in spec.protected_attributes)
        attributes.append(
            assess_attribute(
                name, ctx.y_val, declined, intersection(groups), reference, n_boot=n_boot, seed=spec.split.seed
            )
        )
    all_groups = ctx.data.frame[[a.data_column for a in spec.protected_attributes]]
    all_groups.columns = [a.name for a in spec.protected_attributes]
    screen_rows = np.arange(len(all_groups))
    if len(screen_rows) > PROXY_SCREEN_ROWS:
        screen_rows = np.sort(np.random.default_rng(spec.split.seed).choice(screen_rows, PROXY_SCREEN_ROWS, False))
    proxies = proxy_screen(
        ctx.inputs.iloc[screen_rows],
        all_groups.iloc[screen_rows],
        spec.features.numeric,
        spec.features.categorical,
        seed=spec.split.seed,
        min_category_count=spec.thresholds.min_category_count,
    )
    good = 1 - ctx.target
    observed = {a.name: outcome_rates(good, all_groups[a.name], a.reference) for a in spec.protected_attributes}
    return FairnessReport(
        attributes=attributes,
        proxies=proxies,
        floor=spec.thresholds.disparate_impact_floor,
        cutoff=ctx.rule.threshold,
        observed=observed,
    )


def fairness_findings(report: FairnessReport) -> list[Finding]:
    """A breach of the four-fifths floor is high severity; an interval reaching below it, medium; proxies too."""
    findings = []
    for item in report.attributes:
        low = item.disparate_impact_ci[0]
        if item.disparate_impact < report.floor:
            severity, verdict = "high", "breaches"
        elif np.isfinite(low) and low < report.floor:
            severity, verdict = "medium", "may breach"
        else:
            continue
        findings.append(
            Finding(
                finding_id=f"F-fairness.disparate_impact.{item.attribute}",
                source="fairness.disparate_impact",
                severity=severity,
                title=f"Disparate impact for {item.attribute} {verdict} the four-fifths floor",
                detail=(
                    f"approval-rate ratio of {item.worst_group} to {item.reference} is {item.disparate_impact:.3f} "
                    f"(95% CI {item.disparate_impact_ci[0]:.3f}-{item.disparate_impact_ci[1]:.3f}) against a "
                    f"floor of {report.floor}"
                ),
                remediation="Review the drivers of the gap for business justification and less discriminatory "
                "alternatives (e.g. a different cut-off or feature set); document the decision.",
            )
        )
    for row in report.proxies.itertuples():
        if row.proxy_auc < PROXY_WARN_AUC:
            continue
        findings.append(
            Finding(
                finding_id=f"F-fairness.proxy.{row.attribute}",
                source="fairness.proxy_screen",
                severity="medium" if row.proxy_auc >= PROXY_FAIL_AUC else "low",
                title=f"Model inputs act as a proxy for {row.attribute}",
                detail=f"the inputs predict {row.attribute}={row.group} with AUC {row.proxy_auc:.3f}; strongest: "
                f"{row.top_proxies}",
                remediation="Assess whether the proxy inputs are justified by business necessity.",
            )
        )
    return findings


def approval_figure(report: FairnessReport) -> bytes:
    """Approval rate by group for each attribute, with the reference group's rate times the floor."""
    fig, axes = new_figure(1, len(report.attributes), figsize=(3.6 * len(report.attributes), 3.4), squeeze=False)
    for ax, item in zip(axes[0], report.attributes, strict=True):
        table = item.groups
        colors = ["#4c72b0" if g == item.reference else "#dd8452" for g in table["group"]]
        ax.bar(table["group"].astype(str), table["approval_rate"], color=colors)
        reference_rate = float(table.loc[table["group"] == item.reference, "approval_rate"].iloc[0])
        ax.axhline(
            reference_rate * report.floor,
            color="red",
            linestyle="--",
            linewidth=1,
            label=f"{report.floor:.0%} of reference",
        )
        ax.set(title=item.attribute, ylim=(0, 1), ylabel="approval rate")
        ax.tick_params(axis="x", rotation=30, labelsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return figure_png(fig)
