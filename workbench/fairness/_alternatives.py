"""The search for a less discriminatory alternative: can comparable performance come with smaller gaps?

US fair-lending supervision expects a lender whose model has a disparate impact to look for a less
discriminatory alternative (LDA) that serves its legitimate business needs about as well. This module runs a
documented search, every alternative fitted on the development sample and judged on the validation sample
beside the chosen model:

(a) proxy removal: the chosen family refitted with the spec's hyper-parameters without each of the
    strongest proxy features of the protected attributes (the proxy screen's ranking by Cramer's V), one at
    a time;
(b) fairlearn reductions: ``ExponentiatedGradient`` around the chosen family's estimator with a
    ``DemographicParity`` and with an ``EqualizedOdds`` constraint on the protected groups (their
    intersection; cells with fewer development applicants than the minimum group size pooled). Its objective
    is the error rate weighted so that 0.5 on the fitted models' scale is the spec's cut-off. The reduction
    returns a randomized mixture of models; shown is its deterministic form (the models' probabilities
    averaged by their weights, declined at 0.5), which a lender could deploy. Models without sample weights
    (the statsmodels scorecard) are fitted as the same unpenalised logit by scikit-learn; boosting is capped
    at ``REDUCTION_MAX_STAGES`` stages with the learning rate scaled to keep their product, since the
    reduction fits the model dozens of times (the note gives the capped model's own unconstrained AUC);
(c) the cut-off moved: the cut-off nearest the spec's at which the worst approval-rate ratio reaches the
    floor on the development sample, and any cut-offs the spec lists (``fairness.alternative_cutoffs``).

For each: AUC, approval rate, adverse rate among approved, expected cost per applicant (the spec's costs) and
the approval-rate ratio of every protected attribute (groups too few to assess left out, as in the
assessment). A conclusion the committee can read compares them within ``fairness.alternative_auc_tolerance``.
Everything is seeded by the spec's seed; large samples are subsampled as the proxy screen does.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from workbench.estimators import FAMILIES
from workbench.fairness._assessment import FairnessReport
from workbench.findings import Finding, plain, table_records
from workbench.kinds import kind_of
from workbench.spec import group_labels
from workbench.validation import ValidationContext

#: proxy features removed one at a time, the strongest first
MAX_PROXY_DROPS = 3
#: development rows the refits and reductions use at most (a seeded sample beyond it)
ALTERNATIVE_ROWS = 50_000
#: boosting stages each of the reduction's many fits uses at most (learning rate scaled to keep the product).
#: The reduction refits the estimator 20-60 times; on German, 25 stages at the scaled rate reach the
#: unconstrained AUC of 50 stages (0.78) in half the time, while 20 stages (rate 0.75) lose 0.02-0.04 AUC.
REDUCTION_MAX_STAGES = 25
#: exponentiated-gradient iterations at most (fairlearn's default is 50; the small German data needs about 6)
REDUCTION_ITERATIONS = 20
#: the cut-off grid searched on the development sample
CUTOFF_STEP = 0.005
#: a worst ratio must rise by at least this to count as less discriminatory (smaller moves are noise)
MIN_IMPROVEMENT = 0.01

REDUCTIONS = (("demographic parity", "DemographicParity"), ("equalized odds", "EqualizedOdds"))
#: the kinds of row that are other models (judged against the AUC tolerance)
MODEL_KINDS = ("proxy removed", "fairlearn reduction")


@dataclass
class AlternativeSearch:
    """The alternatives searched, each judged on the validation sample beside the chosen model."""

    table: pd.DataFrame
    conclusion: str
    floor: float
    tolerance: float
    cutoff: float
    attributes: list[str] = field(default_factory=list)
    skipped: str | None = None
    method: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lda: dict[str, Any] | None = None

    def finding(self) -> Finding | None:
        """A medium finding when a model alternative of comparable AUC reaches the floor the chosen one breaches."""
        if self.lda is None:
            return None
        return Finding(
            finding_id="F-fairness.less_discriminatory_alternative",
            source="fairness.alternatives",
            severity="medium",
            title="A less discriminatory alternative with comparable performance was found",
            detail=self.conclusion,
            remediation="Consider adopting the alternative, or document why it does not serve the business need "
            "as well (the fair-lending file must show the search and the decision).",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as recorded in the fairness evidence."""
        return {
            "conclusion": self.conclusion,
            "skipped": self.skipped,
            "floor": self.floor,
            "auc_tolerance": self.tolerance,
            "cutoff": self.cutoff,
            "attributes": list(self.attributes),
            "method": list(self.method),
            "table": table_records(self.table),
            "less_discriminatory_alternative": plain(self.lda),
        }


def _skip(reason: str, report: FairnessReport, tolerance: float) -> AlternativeSearch:
    return AlternativeSearch(
        table=pd.DataFrame(columns=["alternative", "kind", "auc", "approval_rate", "worst_ratio", "note"]),
        conclusion=f"The search for a less discriminatory alternative was not run: {reason}",
        floor=report.floor,
        tolerance=tolerance,
        cutoff=report.cutoff,
        skipped=reason,
    )


class _Groups:
    """The protected groups of one sample, coded once: the approval-rate ratios of many decisions are then fast."""

    def __init__(self, groups: pd.DataFrame, references: dict[str, str], min_size: int) -> None:
        self.coded = {}
        for name, reference in references.items():
            codes, levels = pd.factorize(groups[name].to_numpy(), sort=True)
            sizes = np.bincount(codes, minlength=len(levels))
            large = sizes >= min_size
            ref = list(levels).index(reference) if reference in levels else -1
            self.coded[name] = (codes, sizes, large, ref)

    def ratios(self, approved: np.ndarray) -> dict[str, float]:
        """Approval-rate ratio of the worst group to the reference, per attribute, over groups large enough to judge."""
        ratios = {}
        for name, (codes, sizes, large, ref) in self.coded.items():
            others = large.copy()
            if ref >= 0:
                others[ref] = False
            if ref < 0 or not large[ref] or not others.any():
                ratios[name] = float("nan")
                continue
            rates = np.bincount(codes, weights=approved.astype(float), minlength=len(sizes)) / np.maximum(sizes, 1)
            ratios[name] = float(rates[others].min() / rates[ref]) if rates[ref] > 0 else float("nan")
        return ratios

    def smallest(self) -> int:
        """Applicants in the smallest group the ratios compare."""
        sizes = [int(n) for _, counts, large, _ in self.coded.values() for n in counts[large]]
        return min(sizes) if sizes else 0


def _worst(ratios: dict[str, float]) -> tuple[float, str]:
    finite = {k: v for k, v in ratios.items() if math.isfinite(v)}
    if not finite:
        return float("nan"), ""
    name = min(finite, key=lambda k: (finite[k], k))
    return finite[name], name


class _Judge:
    """Scores and decisions of one alternative on the validation sample, as one table row."""

    def __init__(self, ctx: ValidationContext, references: dict[str, str], min_size: int) -> None:
        self.y = ctx.y_val
        self.groups = _Groups(ctx.groups("validation"), references, min_size)
        costs = ctx.spec.decision.costs
        self.costs = (costs.approve_adverse, costs.decline_good)

    def smallest(self) -> int:
        """Applicants in the smallest group the ratios compare."""
        return self.groups.smallest()

    def failed(self, name: str, kind: str, error: Exception) -> dict[str, Any]:
        """The row of an alternative that could not be fitted: no numbers, the reason in the note."""
        return {"alternative": name, "kind": kind, "auc": float("nan"), "note": f"could not be fitted: {error}"}

    def row(self, name: str, kind: str, scores: np.ndarray, declined: np.ndarray, note: str = "") -> dict[str, Any]:
        approved = ~np.asarray(declined, dtype=bool)
        adverse = self.y == 1
        ratios = self.groups.ratios(approved)
        worst, attribute = _worst(ratios)
        cost = (self.costs[0] * (approved & adverse).sum() + self.costs[1] * (~approved & ~adverse).sum()) / len(self.y)
        return {
            "alternative": name,
            "kind": kind,
            "auc": float(roc_auc_score(self.y, scores)),
            "approval_rate": float(approved.mean()),
            "adverse_rate_approved": float(adverse[approved].mean()) if approved.any() else float("nan"),
            "cost_per_applicant": float(cost),
            **{f"ratio_{k}": v for k, v in ratios.items()},
            "worst_ratio": worst,
            "worst_attribute": attribute,
            "note": note,
        }


def _family(ctx: ValidationContext) -> tuple[str, dict[str, Any]] | None:
    """The chosen family (recorded on the version) and its hyper-parameters from the spec."""
    family = ctx.tags.get("model_family")
    if family is None and len(ctx.spec.candidates) == 1:
        family = ctx.spec.candidates[0].family
    candidate = next((c for c in ctx.spec.candidates if c.family == family), None)
    if candidate is None or family not in FAMILIES:
        return None
    return family, dict(candidate.params)


def _strongest_proxies(report: FairnessReport, features: list[str]) -> list[str]:
    """The features most associated with any protected group, strongest first (proxy screen's Cramer's V)."""
    table = report.proxy_features
    table = table[table["attribute"].isin(report.protected) & table["feature"].isin(features)]
    if table.empty:
        return []
    best = table.groupby("feature")["cramers_v"].max().reset_index()
    best = best.sort_values(["cramers_v", "feature"], ascending=[False, True])
    return list(best["feature"].head(MAX_PROXY_DROPS))


def _build(ctx: ValidationContext, family: str, params: dict[str, Any], drop: str | None = None):
    spec = ctx.spec
    return FAMILIES[family].build(
        [f for f in spec.features.numeric if f != drop],
        [f for f in spec.features.categorical if f != drop],
        min_category_count=spec.thresholds.min_category_count,
        seed=spec.split.seed,
        **params,
    )


def _development(ctx: ValidationContext) -> np.ndarray:
    n = len(ctx.split.development)
    if n <= ALTERNATIVE_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(ctx.spec.split.seed).choice(n, ALTERNATIVE_ROWS, replace=False))


def _reduction_estimator(model: Any) -> tuple[Any, str]:
    """The estimator each reduction fit uses, and what was changed to make it one (for the note)."""
    estimator = clone(model)
    if "sample_weight" not in inspect.signature(estimator.fit).parameters:
        from sklearn.linear_model import LogisticRegression

        logit = LogisticRegression(C=np.inf, solver="newton-cholesky")
        return logit, "the same unpenalised logit fitted by scikit-learn (Newton)"
    params = estimator.get_params()
    stages, rate = params.get("n_estimators"), params.get("learning_rate")
    if isinstance(stages, int) and stages > REDUCTION_MAX_STAGES and isinstance(rate, float | int):
        scaled = min(1.0, float(rate) * stages / REDUCTION_MAX_STAGES)
        estimator.set_params(n_estimators=REDUCTION_MAX_STAGES, learning_rate=scaled)
        return estimator, f"{REDUCTION_MAX_STAGES} boosting stages at learning rate {scaled:.3g}"
    return estimator, ""


def _pooled(groups: pd.DataFrame, min_size: int) -> pd.Series:
    """The intersection of the protected groups, cells with fewer than ``min_size`` rows pooled together."""
    cells = groups.astype(str).agg(" & ".join, axis=1) if groups.shape[1] > 1 else groups.iloc[:, 0].astype(str)
    sizes = cells.map(cells.value_counts())
    return cells.where(sizes >= min_size, "(small groups)").reset_index(drop=True)


def _reductions(
    ctx: ValidationContext, family: str, params: dict[str, Any], rows: np.ndarray, judge: _Judge
) -> list[dict[str, Any]]:
    from fairlearn.reductions import DemographicParity, EqualizedOdds, ErrorRate, ExponentiatedGradient

    constraints = {"DemographicParity": DemographicParity, "EqualizedOdds": EqualizedOdds}
    pipeline = _build(ctx, family, params)
    preprocess = clone(pipeline.named_steps["preprocess"])
    x_dev = preprocess.fit_transform(ctx.x_dev.iloc[rows])
    x_val = preprocess.transform(ctx.x_val)
    y_dev = ctx.y_dev[rows]
    sensitive = _pooled(ctx.groups("development").iloc[rows], ctx.spec.fairness.min_group_size)
    estimator, changed = _reduction_estimator(pipeline.named_steps["model"])
    cutoff = ctx.rule.threshold
    baseline = ""
    if changed:
        plain_model = clone(estimator).fit(x_dev, y_dev)
        unconstrained = roc_auc_score(ctx.y_val, plain_model.predict_proba(x_val)[:, 1])
        baseline = f"; unconstrained at this setting AUC {unconstrained:.3f}"
    out = []
    for label, constraint in REDUCTIONS:
        reduction = ExponentiatedGradient(
            clone(estimator),
            constraints[constraint](),
            objective=ErrorRate(costs={"fp": cutoff, "fn": 1.0 - cutoff}),
            max_iter=REDUCTION_ITERATIONS,
        )
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                reduction.fit(x_dev, y_dev, sensitive_features=sensitive)
        except Exception as error:  # an alternative that cannot be fitted is reported, never a crash
            out.append(judge.failed(f"reduction: {label}", "fairlearn reduction", error))
            continue
        unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        weights = reduction.weights_[reduction.weights_ > 0]
        scores = sum(w * reduction.predictors_[i].predict_proba(x_val)[:, 1] for i, w in weights.items())
        note = (
            f"fairlearn ExponentiatedGradient({constraint}), {reduction.n_oracle_calls_} fits, mixture of "
            f"{len(weights)} model(s) averaged"
            + (f"; {changed}" if changed else "")
            + baseline
            + (f"; {unconverged} fit(s) stopped before converging" if unconverged else "")
        )
        declined = ctx.rule.with_threshold(0.5).adverse(scores)  # 0.5 on the cost-weighted scale is the cut-off
        out.append(judge.row(f"reduction: {label}", "fairlearn reduction", scores, declined, note))
    return out


def _cutoff_at_floor(ctx: ValidationContext, references: dict[str, str], floor: float) -> tuple[float | None, str]:
    """The grid cut-off nearest the spec's at which the worst ratio on the development sample reaches the floor."""
    rule = ctx.rule
    groups = _Groups(ctx.groups("development"), references, ctx.spec.fairness.min_group_size)
    scores = ctx.p_dev

    def worst_at(threshold: float) -> float:
        return _worst(groups.ratios(~rule.with_threshold(threshold).adverse(scores)))[0]

    current = worst_at(rule.threshold)
    if math.isfinite(current) and current >= floor:
        return None, (
            f"at the spec's cut-off the worst ratio on the development sample is already {current:.2f}, at or above "
            f"the floor {floor}: no cut-off was moved"
        )
    grid = np.round(np.arange(CUTOFF_STEP, 1.0, CUTOFF_STEP), 4)
    meets = [float(c) for c in grid if worst_at(c) >= floor]
    if not meets:
        return None, (
            f"no cut-off between {CUTOFF_STEP} and {1 - CUTOFF_STEP} reaches the floor {floor} on the development "
            "sample"
        )
    best = min(meets, key=lambda c: (abs(c - rule.threshold), -c))
    return float(best), ""


def _price(cost: float) -> str:
    if abs(cost) < 0.0005:
        return "no AUC cost"
    return f"an AUC cost of {cost:.3f}" if cost > 0 else f"an AUC gain of {-cost:.3f}"


def _phrase(name: str) -> str:
    """An alternative as the subject of a sentence (lower case): 'dropping housing'."""
    if name.startswith("without "):
        return f"dropping {name.removeprefix('without ')}"
    if name.startswith("reduction: "):
        return f"the fairlearn reduction with {name.removeprefix('reduction: ')}"
    return name


def _subject(name: str) -> str:
    phrase = _phrase(name)
    return phrase[:1].upper() + phrase[1:]


def _model_sentences(table: pd.DataFrame, floor: float, tolerance: float) -> tuple[list[str], dict[str, Any] | None]:
    """What the refits and reductions offer against the chosen model (or the refitted baseline on big data)."""
    chosen = table.iloc[0]
    baseline = table[table["kind"] == "baseline"]
    reference = baseline.iloc[0] if len(baseline) else chosen
    r0, a0, attribute = chosen["worst_ratio"], reference["auc"], chosen["worst_attribute"]
    models = table[table["kind"].isin(MODEL_KINDS) & table["auc"].notna()]
    if models.empty:
        return [], None
    comparable = models[models["auc"] >= a0 - tolerance]
    better = comparable[comparable["worst_ratio"] >= r0 + MIN_IMPROVEMENT].sort_values(
        ["worst_ratio", "auc"], ascending=[False, False]
    )
    sentences, lda = [], None
    if better.empty:
        if r0 < floor:
            sentences.append(
                f"No alternative model within {tolerance} AUC raises the worst approval-rate ratio above the chosen "
                f"model's {r0:.2f} ({attribute}), let alone to the floor {floor}."
            )
        else:
            sentences.append(
                f"The chosen model meets the floor (worst ratio {r0:.2f}, {attribute}); no alternative model within "
                f"{tolerance} AUC raises it further."
            )
    else:
        best = better.iloc[0]
        moved = f"raises the worst approval-rate ratio from {r0:.2f} ({attribute}) to {best['worst_ratio']:.2f}"
        if best["worst_attribute"] != attribute:
            moved += f" (now for {best['worst_attribute']})"
        price = (
            f"{_price(a0 - best['auc'])} (expected cost per applicant {best['cost_per_applicant']:.3f} instead of "
            f"{reference['cost_per_applicant']:.3f})"
        )
        if r0 < floor <= best["worst_ratio"]:
            sentences.append(f"{_subject(best['alternative'])} {moved} at {price}: consider it.")
            lda = {
                "alternative": best["alternative"],
                "worst_ratio": best["worst_ratio"],
                "auc": best["auc"],
                "chosen_worst_ratio": r0,
                "chosen_auc": a0,
            }
        elif r0 < floor:
            sentences.append(
                f"No alternative model within {tolerance} AUC raises the worst ratio to the floor {floor}; the best, "
                f"{_phrase(best['alternative'])}, {moved} at {price}."
            )
        else:
            sentences.append(f"The chosen model meets the floor; {_phrase(best['alternative'])} {moved} at {price}.")
    if lda is None and r0 < floor:
        beyond = models[(models["auc"] < a0 - tolerance) & (models["worst_ratio"] >= floor)]
        if len(beyond):
            best = beyond.sort_values("auc", ascending=False).iloc[0]
            sentences.append(
                f"Beyond the tolerance, {_phrase(best['alternative'])} reaches {best['worst_ratio']:.2f} at "
                f"{_price(a0 - best['auc'])}."
            )
    return sentences, lda


def _conclusion(
    table: pd.DataFrame, floor: float, tolerance: float, smallest: int
) -> tuple[str, dict[str, Any] | None]:
    chosen = table.iloc[0]
    if not math.isfinite(chosen["worst_ratio"]):
        return "The chosen model's approval-rate ratios could not be judged (groups too few to assess).", None
    sentences, lda = _model_sentences(table, floor, tolerance)
    for row in table[table["kind"] == "cut-off"].itertuples():
        sentences.append(
            f"Moving the cut-off from {table.attrs['cutoff']:g} to {row.alternative.removeprefix('cut-off ')} "
            f"({row.note}) gives a worst ratio of {row.worst_ratio:.2f} on the validation sample, approving "
            f"{row.approval_rate:.0%} instead of {chosen['approval_rate']:.0%} with an adverse rate among approved of "
            f"{row.adverse_rate_approved:.1%} instead of {chosen['adverse_rate_approved']:.1%} (expected cost per "
            f"applicant {row.cost_per_applicant:.3f} instead of {chosen['cost_per_applicant']:.3f})."
        )
    sentences.append(
        f"The ratios rest on the validation sample (smallest group compared: {smallest} applicants); differences of "
        "a few hundredths are within sampling noise."
    )
    return " ".join(sentences), lda


def search_alternatives(ctx: ValidationContext, report: FairnessReport) -> AlternativeSearch:
    """Search the documented alternatives on the development sample and judge them on the validation sample.

    Skipped, with the reason stated, when the model has no protected attribute (nothing to compare). The
    first row of the table is the chosen model. The many small fits run with single-threaded BLAS: on small
    matrices threads only contend (several times slower on a busy machine).
    """
    with threadpool_limits(limits=1):
        return _search(ctx, report)


def _search(ctx: ValidationContext, report: FairnessReport) -> AlternativeSearch:
    spec = ctx.spec
    fairness = spec.fairness
    tolerance = fairness.alternative_auc_tolerance
    if not spec.protected_attributes:
        return _skip("no protected attribute was provided, so no alternative can be compared.", report, tolerance)
    reason = kind_of(spec).alternatives_skip
    if reason is not None:  # the kind's burden is not a fair-lending approval rate (fraud: its alerts)
        return _skip(reason, report, tolerance)
    started = time.perf_counter()
    references = {a.name: group_labels(pd.Series([a.reference])).iloc[0] for a in spec.protected_attributes}
    judge = _Judge(ctx, references, fairness.min_group_size)
    family = _family(ctx)
    rows = [judge.row(f"chosen model ({family[0] if family else 'registered'})", "chosen", ctx.p_val, ctx.decisions)]
    method = [
        f"Every alternative is fitted on the development sample ({len(ctx.split.development)} rows) and judged on the "
        f"validation sample ({len(ctx.split.validation)} rows); ratios leave out groups of fewer than "
        f"{fairness.min_group_size} applicants.",
    ]
    if family is None:
        method.append("The chosen family is not recorded on the version: no model was refitted.")
    else:
        name, params = family
        dev_rows = _development(ctx)
        if len(dev_rows) < len(ctx.split.development):
            baseline = _build(ctx, name, params).fit(ctx.x_dev.iloc[dev_rows], ctx.y_dev[dev_rows])
            scores = baseline.predict_proba(ctx.x_val)[:, 1]
            rows.append(
                judge.row(
                    f"chosen family refitted on {len(dev_rows)} rows",
                    "baseline",
                    scores,
                    ctx.rule.adverse(scores),
                    "the reference for the refits below, fitted on the same seeded sample",
                )
            )
        drops = _strongest_proxies(report, spec.features.all)
        method.append(
            f"(a) {name} refitted without each of the {len(drops)} strongest proxy features of the protected "
            f"attributes (proxy screen, Cramer's V): {', '.join(drops) or 'none'}."
        )
        for feature in drops:
            if len(spec.features.all) < 2:
                break
            try:
                model = _build(ctx, name, params, drop=feature).fit(
                    ctx.x_dev.iloc[dev_rows].drop(columns=[feature]), ctx.y_dev[dev_rows]
                )
            except Exception as error:  # an alternative that cannot be fitted is reported, never a crash
                rows.append(judge.failed(f"without {feature}", "proxy removed", error))
                continue
            scores = model.predict_proba(ctx.x_val.drop(columns=[feature]))[:, 1]
            strongest = report.proxy_features[report.proxy_features["feature"] == feature]
            top = strongest.sort_values("cramers_v", ascending=False).iloc[0] if len(strongest) else None
            note = f"Cramer's V {top.cramers_v:.2f} with {top.group}" if top is not None else ""
            rows.append(judge.row(f"without {feature}", "proxy removed", scores, ctx.rule.adverse(scores), note))
        method.append(
            "(b) fairlearn ExponentiatedGradient with DemographicParity and with EqualizedOdds around the "
            f"{name} estimator, on the intersection of the protected groups (cells under {fairness.min_group_size} "
            "development applicants pooled); shown in deterministic form (the mixture's probabilities averaged)."
        )
        rows += _reductions(ctx, name, params, dev_rows, judge)
    at_floor, why = _cutoff_at_floor(ctx, references, report.floor)
    cutoffs = [] if at_floor is None else [(at_floor, "worst ratio at the floor on the development sample")]
    cutoffs += [(c, "from the spec") for c in fairness.alternative_cutoffs]
    method.append(
        f"(c) the cut-off moved from {ctx.rule.threshold}: "
        + (
            f"to {at_floor} (the nearest at which the worst ratio reaches {report.floor} on the development sample)"
            if at_floor is not None
            else why
        )
        + (
            f"; and to {', '.join(str(c) for c in fairness.alternative_cutoffs)} as the spec lists"
            if fairness.alternative_cutoffs
            else ""
        )
        + "."
    )
    for cutoff, source in cutoffs:
        rule = ctx.rule.with_threshold(cutoff)
        rows.append(judge.row(f"cut-off {cutoff:g}", "cut-off", ctx.p_val, rule.adverse(ctx.p_val), source))
    table = pd.DataFrame(rows)
    table.insert(3, "auc_cost", table["auc"].iloc[0] - table["auc"])
    baseline = table.loc[table["kind"] == "baseline", "auc"]
    if len(baseline):  # on a subsample, refits are compared with the chosen family refitted on the same rows
        models = table["kind"].isin(MODEL_KINDS)
        table.loc[models, "auc_cost"] = baseline.iloc[0] - table.loc[models, "auc"]
    table.attrs["cutoff"] = ctx.rule.threshold
    conclusion, lda = _conclusion(table, report.floor, tolerance, judge.smallest())
    return AlternativeSearch(
        table=table,
        conclusion=conclusion,
        floor=report.floor,
        tolerance=tolerance,
        cutoff=ctx.rule.threshold,
        attributes=list(references),
        method=method,
        seconds=time.perf_counter() - started,
        lda=lda,
    )
