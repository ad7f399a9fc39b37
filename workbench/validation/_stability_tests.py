"""Stability: do the score and the features keep their distribution between samples?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.findings import figure_png, new_figure
from workbench.stats import fit_bins, psi, psi_table
from workbench.validation._registry import judge, result, validation_test


@validation_test(
    "stability.score_psi",
    "stability",
    "Score PSI",
    purpose="Detect a shift of the score distribution between development and validation.",
    method="Population stability index over score deciles fixed on the development sample.",
    high_risk_signs="PSI above psi_warn (warn) or max_psi (fail); bands 0.10 / 0.25 by default.",
    limitations="A stable score can hide offsetting feature shifts; see stability.feature_csi.",
    thresholds=("psi_warn", "max_psi"),
    severity="high",
    remediation="Investigate the population shift.",
    headline={"score_psi": "psi"},
)
def score_psi(ctx, test):
    bins = fit_bins(ctx.p_dev, n_bins=10)
    value = psi(ctx.p_dev, ctx.p_val, bins=bins)
    t = ctx.spec.thresholds
    table = psi_table(ctx.p_dev, ctx.p_val, bins)
    fig, ax = new_figure(figsize=(4.8, 3.6))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["reference_share"], width=0.4, label="development", color="#4c72b0")
    ax.bar(x + 0.2, table["sample_share"], width=0.4, label="validation", color="#dd8452")
    ax.set_xticks(x, [str(b) for b in table["bin"]], rotation=60, fontsize=6)
    ax.set(xlabel="score bin (deciles of development)", ylabel="share of applicants", title=f"Score PSI {value:.4f}")
    ax.legend(fontsize=7)
    return result(
        test,
        judge(value, warn_above=t.psi_warn, fail_above=t.max_psi),
        f"score PSI {value:.4f}",
        values={"psi": value},
        tables={"bins": table},
        figures={"shares": figure_png(fig)},
    )


@validation_test(
    "stability.feature_csi",
    "stability",
    "Characteristic stability index per feature",
    purpose="Find which inputs moved between samples.",
    method="CSI (PSI of a feature) on deciles or levels fixed on the development sample.",
    high_risk_signs="Any feature above psi_warn (warn) or max_psi (fail).",
    limitations="Univariate.",
    thresholds=("psi_warn", "max_psi"),
    severity="medium",
    remediation="Investigate the shifted features.",
)
def feature_csi(ctx, test):
    rows = []
    for name in ctx.spec.features.all:
        bins = fit_bins(ctx.x_dev[name], categorical=name in ctx.spec.features.categorical)
        rows.append({"feature": name, "csi": psi(ctx.x_dev[name], ctx.x_val[name], bins=bins)})
    table = pd.DataFrame(rows).sort_values("csi", ascending=False)
    t = ctx.spec.thresholds
    worst = table.iloc[0]
    fig, ax = new_figure(figsize=(4.8, 0.9 + 0.2 * len(table)))
    shown = table.iloc[::-1]
    ax.barh(shown["feature"], shown["csi"], color="#4c72b0")
    ax.axvline(t.psi_warn, color="#c77700", linestyle="--", linewidth=1, label=f"warn {t.psi_warn}")
    ax.axvline(t.max_psi, color="#c62828", linestyle="--", linewidth=1, label=f"limit {t.max_psi}")
    ax.set(xlabel="CSI (development to validation)", title="Feature stability")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)
    return result(
        test,
        judge(worst["csi"], warn_above=t.psi_warn, fail_above=t.max_psi),
        f"largest CSI {worst['csi']:.4f} ({worst['feature']})",
        values={"max_csi": float(worst["csi"])},
        tables={"features": table},
        figures={"csi": figure_png(fig)},
    )
