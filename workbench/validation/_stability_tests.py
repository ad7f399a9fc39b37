"""Stability: do the score and the features keep their distribution between samples?"""

from __future__ import annotations

import pandas as pd

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
    return result(
        test,
        judge(value, warn_above=t.psi_warn, fail_above=t.max_psi),
        f"score PSI {value:.4f}",
        values={"psi": value},
        tables={"bins": psi_table(ctx.p_dev, ctx.p_val, bins)},
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
    return result(
        test,
        judge(worst["csi"], warn_above=t.psi_warn, fail_above=t.max_psi),
        f"largest CSI {worst['csi']:.4f} ({worst['feature']})",
        values={"max_csi": float(worst["csi"])},
        tables={"features": table},
    )
