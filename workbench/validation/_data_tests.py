"""Data tests: is the validation sample like the development sample, and is it clean?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp

from workbench.stats import fit_bins, leakage_screen, leakage_suspects, psi
from workbench.validation._registry import judge, result, validation_test


@validation_test(
    "data.representativeness",
    "data",
    "Representativeness of development vs validation samples",
    purpose="Check that the validation sample comes from the same population as the development sample.",
    method="Per feature: two-sample Kolmogorov-Smirnov test (numeric) or chi-square test of homogeneity "
    "(categorical), and the CSI on deciles / levels fixed on the development sample.",
    high_risk_signs="Many features with p < 0.05 or CSI above the spec's psi_warn: validation results may not "
    "transfer to the population the model was built on.",
    limitations="With small samples the tests have little power; with large ones trivial shifts are significant.",
    thresholds=("psi_warn", "max_psi"),
    severity="medium",
    remediation="Explain the population difference or re-draw the validation sample.",
)
def representativeness(ctx, test):
    rows = []
    for name in ctx.spec.features.all:
        dev, val = ctx.x_dev[name], ctx.x_val[name]
        if name in ctx.spec.features.numeric:
            statistic, p_value = ks_2samp(dev.dropna(), val.dropna())
            method = "KS"
        else:
            table = pd.crosstab(pd.concat([dev, val]).astype(str), np.r_[np.zeros(len(dev)), np.ones(len(val))])
            statistic, p_value, _, _ = chi2_contingency(table)
            method = "chi-square"
        rows.append(
            {
                "feature": name,
                "test": method,
                "statistic": float(statistic),
                "p_value": float(p_value),
                "csi": psi(dev, val, bins=fit_bins(dev, categorical=name in ctx.spec.features.categorical)),
            }
        )
    table = pd.DataFrame(rows).sort_values("csi", ascending=False)
    t = ctx.spec.thresholds
    worst = table.iloc[0]
    outcome = judge(worst["csi"], warn_above=t.psi_warn, fail_above=t.max_psi)
    significant = int((table["p_value"] < 0.05).sum())
    if outcome == "pass" and significant > max(1, len(table) // 5):
        outcome = "warn"
    return result(
        test,
        outcome,
        f"largest CSI {worst['csi']:.3f} ({worst['feature']}); {significant} of "
        f"{len(table)} features differ at the 5% level",
        values={"max_csi": float(worst["csi"]), "features_significant": significant},
        tables={"features": table},
    )


@validation_test(
    "data.missingness",
    "data",
    "Missing values in both samples",
    purpose="Find features whose missing values the model has to impute.",
    method="Share of missing values per feature in the development and validation samples.",
    high_risk_signs="Missing shares above max_missing_rate, or very different shares between samples.",
    limitations="Does not detect values that encode 'missing' as a number (e.g. 999).",
    thresholds=("max_missing_rate",),
    severity="high",
    remediation="Fix the source data or document the imputation and its effect on scores.",
)
def missingness(ctx, test):
    table = pd.DataFrame(
        {
            "feature": ctx.spec.features.all,
            "development": ctx.x_dev.isna().mean().to_numpy(),
            "validation": ctx.x_val.isna().mean().to_numpy(),
        }
    )
    worst = float(table[["development", "validation"]].to_numpy().max())
    outcome = judge(worst, warn_above=0.0, fail_above=ctx.spec.thresholds.max_missing_rate)
    return result(
        test,
        outcome,
        f"largest missing share {worst:.1%}",
        values={"max_missing_share": worst},
        tables={"missing": table},
    )


@validation_test(
    "data.outliers",
    "data",
    "Validation values outside the development range",
    purpose="Find validation cases the model extrapolates to.",
    method="Share of validation values of each numeric feature outside the development 0.5%-99.5% range.",
    high_risk_signs="More than 2% of cases outside the range for any feature.",
    limitations="Univariate: unusual combinations of ordinary values are not detected.",
    severity="low",
    remediation="Review the extreme cases and cap or document them.",
)
def outliers(ctx, test):
    rows = []
    for name in ctx.spec.features.numeric:
        low, high = np.nanquantile(ctx.x_dev[name], [0.005, 0.995])
        values = ctx.x_val[name]
        rows.append(
            {
                "feature": name,
                "dev_p0.5": low,
                "dev_p99.5": high,
                "share_outside": float(((values < low) | (values > high)).mean()),
            }
        )
    table = pd.DataFrame(rows)
    worst = float(table["share_outside"].max()) if len(table) else 0.0
    outcome = judge(worst, warn_above=0.02, fail_above=0.10)
    return result(
        test,
        outcome,
        f"at most {worst:.1%} of validation values outside the development range",
        values={"max_share_outside": worst},
        tables={"outliers": table},
    )


@validation_test(
    "data.leakage",
    "data",
    "Single-feature leakage screen",
    purpose="Find inputs that would not be known when the decision is made (filled after it: who bought the "
    "loan, a collection flag), which make a model look far better than it can be in use.",
    method="Each feature alone scored against the outcome on the development sample: a number by its value, a "
    "category by its level's adverse rate, missing values as a level; the AUC oriented to at least 0.5.",
    high_risk_signs="A single feature with an AUC above the spec's max_single_feature_auc, or 1.0 (it separates "
    "the outcome perfectly).",
    limitations="Screens one feature at a time; a leak spread over several features, or a weak leak, passes.",
    thresholds=("max_single_feature_auc",),
    severity="high",
    remediation="Confirm each named feature is known at decision time from the data owner; drop it otherwise.",
)
def leakage(ctx, test):
    spec = ctx.spec
    table = leakage_screen(ctx.x_dev, ctx.y_dev, list(spec.features.numeric), list(spec.features.categorical))
    limit = spec.thresholds.max_single_feature_auc
    suspects, named = leakage_suspects(table, limit)
    top = table.iloc[0]
    if len(suspects):
        reason = f"{named} separate(s) the outcome alone beyond {limit}: likely filled after the decision"
    else:
        reason = f"no feature alone beyond {limit}; strongest {top['feature']} (AUC {top['single_feature_auc']:.3f})"
    return result(
        test,
        "fail" if len(suspects) else "pass",
        reason,
        values={"max_single_feature_auc": float(top["single_feature_auc"]), "suspects": suspects["feature"].tolist()},
        tables={"single_feature_auc": table},
    )
