"""Conceptual soundness: do the drivers make sense, are they redundant, and how strong is each?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.inspection import partial_dependence
from sklearn.linear_model import LogisticRegression

from workbench.stats import information_value, woe_table
from workbench.validation._registry import judge, result, validation_test


def variance_inflation_factors(design: np.ndarray) -> np.ndarray:
    """VIF of each column: the diagonal of the inverse of the columns' correlation matrix.

    Equals 1 / (1 - R^2) of regressing each column on all others with an intercept; constant columns get inf.
    """
    std = design.std(axis=0)
    varying = std > 0
    out = np.full(design.shape[1], np.inf)
    if varying.sum() > 1:
        correlation = np.corrcoef(design[:, varying], rowvar=False)
        out[varying] = np.diag(np.linalg.pinv(correlation))
    elif varying.sum() == 1:
        out[varying] = 1.0
    return out


def _source_feature(term: str, features: list[str]) -> str:
    body = term.split("__", 1)[-1]
    return max((f for f in features if body == f or body.startswith(f + "_")), key=len, default=body)


@validation_test(
    "soundness.coefficients",
    "soundness",
    "Scorecard coefficient signs and significance",
    purpose="Check that each driver pushes risk in the direction its univariate evidence shows, and matters.",
    method="The validator's statsmodels scorecard (fitted on development): Wald p-values per term; the sign of "
    "each numeric coefficient against the sign of its Spearman correlation with the outcome. Judged only when the "
    "chosen model is the scorecard; otherwise only the counts are reported (the table describes a model not in use).",
    high_risk_signs="Significant coefficients with counter-intuitive signs; most terms insignificant.",
    limitations="Signs of correlated features can flip without harm to predictions (see soundness.vif).",
    severity="medium",
    remediation="Review counter-intuitive drivers with the developer; consider dropping them.",
    not_applicable="the Wald table comes from a maximum-likelihood scorecard benchmark",
)
def coefficients(ctx, test):
    scorecard = ctx.benchmark.named_steps["model"]
    names = list(ctx.benchmark.named_steps["preprocess"].get_feature_names_out())
    table = scorecard.coefficient_table(names)
    table["feature"] = [_source_feature(t, ctx.spec.features.all) for t in table["term"]]
    expected = {}
    for name in ctx.spec.features.numeric:
        rho = spearmanr(ctx.x_dev[name], ctx.y_dev, nan_policy="omit").statistic
        expected[name] = np.sign(rho)
    table["univariate_sign"] = table["feature"].map(expected)
    counter = table[
        (table["univariate_sign"].notna())
        & (np.sign(table["coefficient"]) != table["univariate_sign"])
        & (table["p_value"] < 0.05)
    ]
    terms = table[table["term"] != "intercept"]
    insignificant = float((terms["p_value"] >= 0.05).mean())
    outcome = "fail" if len(counter) else ("warn" if insignificant > 0.6 else "pass")
    reason = (
        f"{len(counter)} significant counter-intuitive sign(s)"
        f"{' (' + ', '.join(counter['term']) + ')' if len(counter) else ''}; "
        f"{insignificant:.0%} of terms insignificant at 5%"
    )
    tables = {"coefficients": table}
    if not isinstance(ctx.model.named_steps["model"], LogisticRegression):
        # the chosen model has no coefficients: the benchmark's are context, not a finding on this version,
        # and their table would describe a model that is not in use
        outcome, tables = "pass", {}
        reason = f"not judged: the chosen model is not a scorecard; the benchmark scorecard shows {reason}"
    return result(
        test,
        outcome,
        reason,
        values={"counter_intuitive": len(counter), "share_insignificant": insignificant},
        tables=tables,
    )


@validation_test(
    "soundness.vif",
    "soundness",
    "Multicollinearity (variance inflation factors)",
    purpose="Find inputs that are near-linear combinations of others, which make coefficients unstable.",
    method="VIF of every column of the encoded design matrix on the development sample, as the diagonal of the "
    "inverse correlation matrix (identical to regressing each column on the others with an intercept, as "
    "statsmodels does, but one pass over the data).",
    high_risk_signs="VIF above 5 (warn) or 10 (fail).",
    limitations="One-hot levels of one feature are mildly collinear by construction.",
    severity="medium",
    remediation="Drop or combine collinear inputs.",
)
def vif(ctx, test):
    design = ctx.benchmark.named_steps["preprocess"].transform(ctx.x_dev)
    names = list(ctx.benchmark.named_steps["preprocess"].get_feature_names_out())
    values = variance_inflation_factors(np.asarray(design, dtype=float))
    table = pd.DataFrame({"term": names, "vif": values}).sort_values("vif", ascending=False)
    worst = table.iloc[0]
    return result(
        test,
        judge(float(worst["vif"]), warn_above=5, fail_above=10),
        f"largest VIF {worst['vif']:.2f} ({worst['term']})",
        values={"max_vif": float(worst["vif"])},
        tables={"vif": table},
    )


@validation_test(
    "soundness.woe_iv",
    "soundness",
    "Weight of evidence and information value",
    purpose="Univariate strength and direction of every feature.",
    method="WoE per level / development decile and the feature's information value.",
    high_risk_signs="IV above 0.5 (suspiciously strong: possible leakage of the outcome); IV below 0.02 (no "
    "information).",
    limitations="Univariate; binning choices change IV.",
    severity="medium",
    remediation="Check strong features for leakage; consider dropping uninformative ones.",
)
def woe_iv(ctx, test):
    rows, bins = [], []
    for name in ctx.spec.features.all:
        categorical = name in ctx.spec.features.categorical
        table = woe_table(ctx.x_dev[name], ctx.y_dev, categorical=categorical)
        table.insert(0, "feature", name)
        bins.append(table)
        rows.append({"feature": name, "iv": information_value(ctx.x_dev[name], ctx.y_dev, categorical=categorical)})
    summary = pd.DataFrame(rows).sort_values("iv", ascending=False)
    strongest = summary.iloc[0]
    weak = summary[summary["iv"] < 0.02]["feature"].tolist()
    outcome = "warn" if strongest["iv"] > 0.5 else "pass"
    reason = f"strongest {strongest['feature']} (IV {strongest['iv']:.3f}); {len(weak)} feature(s) with IV < 0.02"
    return result(
        test,
        outcome,
        reason,
        values={"max_iv": float(strongest["iv"]), "weak_features": weak},
        tables={"information_value": summary, "woe": pd.concat(bins, ignore_index=True)},
    )


@validation_test(
    "soundness.monotonicity",
    "soundness",
    "Monotonicity of numeric effects",
    purpose="A credit policy is explainable when more of a risk driver never lowers risk.",
    method="Partial dependence (scikit-learn) of the model's score on each numeric feature over its development "
    "deciles (on at most 20,000 development rows); a feature is monotone when the curve never changes direction "
    "by more than 0.005.",
    high_risk_signs="Non-monotone effects of drivers with a clear business direction.",
    limitations="Partial dependence averages over interactions.",
    severity="low",
    remediation="Constrain the model monotonically or explain the shape.",
)
def monotonicity(ctx, test):
    rows = []
    x_dev, _ = ctx.sample(20_000)
    for name in ctx.spec.features.numeric:
        grid = np.unique(np.nanquantile(x_dev[name], np.linspace(0.05, 0.95, 10)))
        if len(grid) < 3:
            continue
        dependence = partial_dependence(
            ctx.model, x_dev, [name], custom_values={name: grid}, kind="average", response_method="predict_proba"
        )
        curve = np.asarray(dependence["average"])[0]
        steps = np.diff(curve)
        steps = steps[np.abs(steps) > 0.005]
        changes = int((np.diff(np.sign(steps)) != 0).sum()) if len(steps) > 1 else 0
        rows.append(
            {
                "feature": name,
                "direction_changes": changes,
                "low": float(curve[0]),
                "high": float(curve[-1]),
                "monotone": changes == 0,
            }
        )
    table = pd.DataFrame(rows)
    broken = table[~table["monotone"]]["feature"].tolist() if len(table) else []
    return result(
        test,
        "warn" if broken else "pass",
        f"non-monotone: {', '.join(broken)}" if broken else "all numeric effects monotone",
        values={"non_monotone": broken},
        tables={"partial_dependence": table},
    )
