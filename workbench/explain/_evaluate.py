"""Explainability of a registered version: global drivers, dependence, reason codes and SHAP-LIME agreement."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.explain._contributions import ContributionExplainer
from workbench.explain._lime import LimeExplainer
from workbench.findings import figure_png, new_figure
from workbench.validation import Finding, ValidationContext

#: Below this share of declined cases whose top SHAP reason LIME also ranks in its top-k, reasons are doubtful.
AGREEMENT_FLOOR = 0.6


@dataclass
class ExplainabilityReport:
    """Global importance, dependence figures, sample adverse-action notices and the SHAP-LIME comparison."""

    method: str
    importance: pd.DataFrame
    reason_examples: pd.DataFrame
    agreement: pd.DataFrame
    top1_agreement: float
    topk_overlap: float
    figures: dict[str, bytes] = field(default_factory=dict)

    def to_dict(self, findings: list[Finding] | None = None) -> dict:
        """JSON-ready form with the findings it raised, as logged to the validator's run."""
        from workbench.findings import table_records

        return {
            "method": self.method,
            "importance": table_records(self.importance),
            "reason_examples": table_records(self.reason_examples),
            "agreement": table_records(self.agreement),
            "top1_agreement": self.top1_agreement,
            "topk_overlap": self.topk_overlap,
            "figures": sorted(self.figures),
            "findings": [f.to_dict() for f in findings or []],
        }


def _importance_figure(importance: pd.DataFrame) -> bytes:
    fig, ax = new_figure(figsize=(5.6, 0.28 * len(importance) + 1))
    ordered = importance.iloc[::-1]
    ax.barh(ordered["feature"], ordered["mean_abs_contribution"], color="#4c72b0")
    ax.set(xlabel="mean |contribution| (log-odds)", title="Global importance, validation sample")
    fig.tight_layout()
    return figure_png(fig)


def _dependence_figure(inputs: pd.DataFrame, contributions: pd.DataFrame, feature: str, numeric: bool) -> bytes:
    fig, ax = new_figure(figsize=(4.8, 3.4))
    if numeric:
        ax.scatter(inputs[feature], contributions[feature], s=8, alpha=0.6)
    else:
        frame = pd.DataFrame({"level": inputs[feature].astype(str), "c": contributions[feature]})
        means = frame.groupby("level")["c"].mean().sort_values()
        ax.barh([str(label)[:38] for label in means.index], means.to_numpy(), color="#dd8452")
    ax.axhline(0, color="grey", linewidth=0.8) if numeric else ax.axvline(0, color="grey", linewidth=0.8)
    ax.set(
        title=f"Dependence: {feature}",
        xlabel=feature if numeric else "mean contribution (log-odds)",
        ylabel="contribution (log-odds)" if numeric else "",
    )
    fig.tight_layout()
    return figure_png(fig)


def _shown_value(value: object) -> str:
    """An input as a notice shows it; a missing one says so (the model used its imputed value)."""
    return "(missing)" if pd.isna(value) else str(value)


def explain_version(
    ctx: ValidationContext, n_cases: int = 8, top_drivers: int = 3, lime_samples: int = 2000
) -> ExplainabilityReport:
    """Explain the version on its validation sample; sample declined applicants get notices and LIME checks."""
    explainer = ContributionExplainer(ctx.model, ctx.spec, ctx.x_dev)
    contributions = explainer.contributions(ctx.x_val)
    importance = explainer.importance(ctx.x_val)
    figures = {"importance": _importance_figure(importance)}
    for feature in importance["feature"].head(top_drivers):
        figures[f"dependence_{feature}"] = _dependence_figure(
            ctx.x_val, contributions, feature, feature in ctx.spec.features.numeric
        )

    declined = np.flatnonzero(ctx.decisions == 1)
    rng = np.random.default_rng(ctx.spec.split.seed)
    chosen = np.sort(rng.choice(declined, size=min(n_cases, len(declined)), replace=False)) if len(declined) else []
    k = ctx.spec.decision.reason_codes
    lime = LimeExplainer(ctx.model, ctx.spec, ctx.x_dev, seed=ctx.spec.split.seed)
    notices, comparisons = [], []
    for position in chosen:
        row = ctx.x_val.iloc[[position]]
        reasons = explainer.reasons(row, k)[0]
        shap_top = [r.feature for r in reasons]
        weights = lime.weights(row, num_samples=lime_samples)
        lime_top = weights[weights > 0].sort_values(ascending=False).head(k).index.tolist()
        case = f"validation row {int(ctx.split.validation[position])}"
        for rank, reason in enumerate(reasons, start=1):
            notices.append(
                {
                    "case": case,
                    "score": float(ctx.p_val[position]),
                    "rank": rank,
                    "feature": reason.feature,
                    "value": _shown_value(row.iloc[0][reason.feature]),
                    "contribution": reason.contribution,
                    "reason": reason.text,
                }
            )
        overlap = len(set(shap_top) & set(lime_top)) / max(len(shap_top), 1)
        comparisons.append(
            {
                "case": case,
                "shap_top": ", ".join(shap_top),
                "lime_top": ", ".join(lime_top),
                "top1_in_lime_topk": bool(shap_top and shap_top[0] in lime_top),
                "overlap": overlap,
            }
        )
    agreement = pd.DataFrame(comparisons, columns=["case", "shap_top", "lime_top", "top1_in_lime_topk", "overlap"])
    return ExplainabilityReport(
        method=explainer.method,
        importance=importance,
        reason_examples=pd.DataFrame(notices),
        agreement=agreement,
        top1_agreement=float(agreement["top1_in_lime_topk"].mean()) if len(agreement) else float("nan"),
        topk_overlap=float(agreement["overlap"].mean()) if len(agreement) else float("nan"),
        figures=figures,
    )


def explainability_findings(report: ExplainabilityReport) -> list[Finding]:
    """Doubtful reason codes (SHAP and LIME disagree) are a medium finding."""
    if not np.isfinite(report.top1_agreement) or report.top1_agreement >= AGREEMENT_FLOOR:
        return []
    return [
        Finding(
            finding_id="F-explainability.agreement",
            source="explainability.shap_lime_agreement",
            severity="medium",
            title="SHAP and LIME disagree on the main adverse-action reason",
            detail=f"for {report.top1_agreement:.0%} of sampled declines the top {report.method} reason is among "
            f"LIME's top reasons (floor {AGREEMENT_FLOOR:.0%}); mean top-k overlap {report.topk_overlap:.0%}",
            remediation="Review reason-code stability before using them in adverse-action notices.",
        )
    ]
