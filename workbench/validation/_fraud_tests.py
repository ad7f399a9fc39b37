"""The fraud kind's tests: ranking of a rare outcome, alerts within the review budget, time, patterns, groups,
and the feature store (the label-delay rule and train-serve skew).

They sit in the ordinary categories, so the documents place them where a reader looks for them; for a credit
model each skips itself with the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve

from workbench.findings import figure_png, new_figure
from workbench.validation._registry import judge, result, validation_test

ONLY_FRAUD = "it judges alerts on transactions, their feature store and fraud patterns"


def _alert_summary(y: np.ndarray, p: np.ndarray, alerted: np.ndarray, amount: np.ndarray, review_cost: float) -> dict:
    """Recall, precision, value detection, false positives per true positive and cost of one set of alerts."""
    tp = int(np.sum(alerted & (y == 1)))
    fp = int(np.sum(alerted & (y == 0)))
    frauds = int(np.sum(y == 1))
    fraud_value = float(amount[y == 1].sum())
    missed_value = float(amount[(y == 1) & ~alerted].sum())
    return {
        "alert_rate": float(alerted.mean()) if len(alerted) else float("nan"),
        "alerts": int(alerted.sum()),
        "frauds": frauds,
        "recall": tp / frauds if frauds else float("nan"),
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "value_detection_rate": 1.0 - missed_value / fraud_value if fraud_value else float("nan"),
        "false_positives_per_true_positive": fp / tp if tp else float("inf"),
        "cost": missed_value + review_cost * float(alerted.sum()),
        "cost_no_model": fraud_value,
    }


def _amounts(ctx, sample: str = "validation") -> np.ndarray:
    return ctx.raw(sample)[ctx.spec.decision.amount_column].to_numpy(dtype=float)


@validation_test(
    "discrimination.average_precision",
    "discrimination",
    "Average precision (area under the precision-recall curve)",
    purpose="Judge the ranking of a rare outcome where ROC AUC flatters: how precise alerts are at each recall.",
    method="scikit-learn average_precision_score on the out-of-time validation sample, against the fraud rate "
    "(a random ranking's average precision).",
    high_risk_signs="Average precision below thresholds.min_average_precision, or within twice the fraud rate.",
    limitations="Few frauds in the validation sample make the figure noisy.",
    thresholds=("min_average_precision",),
    severity="high",
    remediation="Add features that separate the patterns missed, or more labelled fraud.",
    headline={"average_precision": "average_precision", "fraud_rate": "fraud_rate"},
    not_applicable=ONLY_FRAUD,
)
def average_precision(ctx, test):
    ap = float(average_precision_score(ctx.y_val, ctx.p_val))
    base = float(ctx.y_val.mean())
    precision, recall, _ = precision_recall_curve(ctx.y_val, ctx.p_val)
    fig, ax = new_figure(figsize=(5.0, 3.6))
    ax.plot(recall, precision, label=f"model (AP {ap:.3f})")
    ax.axhline(base, color="grey", linestyle=":", label=f"fraud rate {base:.2%}")
    ax.set(xlabel="recall (share of frauds alerted)", ylabel="precision", title="Precision-recall, out of time")
    ax.legend(fontsize=8)
    outcome = "fail" if ap < ctx.spec.thresholds.min_average_precision or ap < 2 * base else "pass"
    return result(
        test,
        outcome,
        f"average precision {ap:.3f} against a fraud rate of {base:.3%} "
        f"(min {ctx.spec.thresholds.min_average_precision})",
        values={"average_precision": ap, "fraud_rate": base},
        figures={"precision_recall": figure_png(fig)},
    )


@validation_test(
    "decision.alert_budget",
    "decision",
    "Alerts within the review budget: recall, precision, value caught, cost",
    purpose="State what the alert policy does: how much fraud the review team sees for the alerts it can take.",
    method="At the threshold training set from the budget on the development sample: the realised alert rate, "
    "recall and precision of alerts, value detection rate (share of fraud amount alerted), false positives per "
    "true positive, and the cost (missed fraud amounts plus decision.review_cost per alert) against no model.",
    high_risk_signs="Recall at the budget below thresholds.min_recall_at_budget; a realised alert rate above 1.5x "
    "the budget (the review team cannot keep up).",
    limitations="Chargebacks still to arrive after the data were drawn are counted as genuine.",
    thresholds=("min_recall_at_budget",),
    severity="high",
    remediation="Revisit the budget with fraud operations or improve the model's ranking at the top.",
    headline={
        "recall_at_budget": "recall",
        "precision_at_budget": "precision",
        "value_detection_rate": "value_detection_rate",
        "alert_rate": "alert_rate",
        "false_positives_per_true_positive": "false_positives_per_true_positive",
    },
    not_applicable=ONLY_FRAUD,
)
def alert_budget(ctx, test):
    from workbench.decision import budget_alert_rate

    spec = ctx.spec
    alerted = ctx.rule.adverse(ctx.p_val)
    summary = _alert_summary(ctx.y_val, ctx.p_val, alerted, _amounts(ctx), spec.decision.review_cost)
    times = pd.to_datetime(ctx.raw("validation")[str(spec.event_time)], utc=True)
    days = max((times.max() - times.min()) / pd.Timedelta(days=1), 1.0)
    budget = budget_alert_rate(spec, len(ctx.p_val), days)
    summary |= {
        "budget_alert_rate": budget,
        "threshold": ctx.rule.threshold,
        "alerts_per_day": summary["alerts"] / days,
    }
    outcome = judge(summary["recall"], fail_below=spec.thresholds.min_recall_at_budget)
    if summary["alert_rate"] > 1.5 * budget and outcome == "pass":
        outcome = "warn"
    return result(
        test,
        outcome,
        f"alerting {summary['alert_rate']:.2%} of transactions (budget {budget:.2%}, {summary['alerts_per_day']:.0f} a "
        f"day) catches {summary['recall']:.1%} of frauds and {summary['value_detection_rate']:.1%} of fraud value; "
        f"{summary['precision']:.1%} of alerts are fraud ({summary['false_positives_per_true_positive']:.1f} false "
        f"per true); cost {summary['cost']:,.0f} against {summary['cost_no_model']:,.0f} with no model",
        values=summary,
    )


def _by_period(ctx) -> pd.DataFrame:
    """Out-of-time validation sample by the monitoring period: alerts, frauds, recall, precision, AP."""
    raw = ctx.raw("validation")
    period = (
        pd.to_datetime(raw[str(ctx.spec.event_time)], utc=True)
        .dt.tz_localize(None)
        .dt.to_period(ctx.spec.monitoring.period)
    )
    alerted = ctx.rule.adverse(ctx.p_val)
    rows = []
    for label in sorted(period.unique()):
        mask = (period == label).to_numpy()
        y, p, a = ctx.y_val[mask], ctx.p_val[mask], alerted[mask]
        frauds = int(y.sum())
        rows.append(
            {
                "period": str(label),
                "transactions": int(mask.sum()),
                "frauds": frauds,
                "alert_rate": float(a.mean()),
                "recall": float(a[y == 1].mean()) if frauds else float("nan"),
                "precision": float(y[a].mean()) if a.any() else float("nan"),
                "average_precision": float(average_precision_score(y, p)) if 0 < frauds < len(y) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


@validation_test(
    "stability.performance_by_period",
    "stability",
    "Performance by period out of time",
    purpose="See whether the ranking holds up period by period after development ends, not just on average.",
    method="Average precision and recall at the threshold per monitoring period (spec.monitoring.period) of the "
    "out-of-time validation sample.",
    high_risk_signs="A period with enough frauds (10 or more) whose recall falls below half the overall recall.",
    limitations="Periods with few frauds are shown but not judged.",
    severity="medium",
    remediation="Investigate the weak period (a new pattern, a feature outage) before relying on the model.",
    not_applicable=ONLY_FRAUD,
)
def performance_by_period(ctx, test):
    table = _by_period(ctx)
    overall = float(ctx.rule.adverse(ctx.p_val)[ctx.y_val == 1].mean()) if ctx.y_val.any() else float("nan")
    judged = table[table["frauds"] >= 10]
    weak = judged[judged["recall"] < overall / 2]
    return result(
        test,
        "warn" if len(weak) else "pass",
        f"{len(table)} periods; recall {table['recall'].min():.1%} to {table['recall'].max():.1%} (overall "
        f"{overall:.1%}); {len(weak)} judged period(s) below half of it",
        values={"periods": len(table), "weak_periods": len(weak), "overall_recall": overall},
        tables={"by_period": table},
    )


@validation_test(
    "stability.alert_rate",
    "stability",
    "Alert-rate stability",
    purpose="The review team is staffed for the budget: the alert rate must not swing from period to period.",
    method="Alert rate per monitoring period of the out-of-time validation sample against the budget.",
    high_risk_signs="A period alerting more than twice or less than half the budget.",
    limitations="The alert rate also moves with the true fraud rate, which the team cannot control.",
    severity="medium",
    remediation="Re-set the threshold on recent data or plan review capacity for the peaks.",
    headline={"alert_rate_max_to_budget": "max_to_budget"},
    not_applicable=ONLY_FRAUD,
)
def alert_rate_stability(ctx, test):
    table = _by_period(ctx)
    budget = float(ctx.rule.adverse(ctx.p_dev).mean())
    ratio = table["alert_rate"] / budget if budget else table["alert_rate"] * np.nan
    outcome = "warn" if ((ratio > 2) | (ratio < 0.5)).any() else "pass"
    return result(
        test,
        outcome,
        f"alert rate by period {table['alert_rate'].min():.2%} to {table['alert_rate'].max():.2%} against "
        f"{budget:.2%} on the development sample (largest ratio {ratio.max():.2f})",
        values={"max_to_budget": float(ratio.max()), "min_to_budget": float(ratio.min()), "budget": budget},
        tables={"by_period": table.assign(ratio_to_budget=ratio)},
    )


@validation_test(
    "segments.fraud_patterns",
    "segments",
    "Recall per fraud pattern",
    purpose="A model can catch one pattern (account takeover) and miss another (card testing): see each.",
    method="Share of each pattern's frauds alerted at the threshold, and of its fraud value, on the out-of-time "
    "validation sample (target.pattern_column).",
    high_risk_signs="A pattern with 10 or more frauds of which fewer than half the overall recall is alerted.",
    limitations="Needs the pattern of each fraud (investigators' labels, or known for synthetic data).",
    severity="medium",
    remediation="Add features aimed at the missed pattern (e.g. counts of small amounts at new merchants).",
    not_applicable=ONLY_FRAUD,
)
def fraud_patterns(ctx, test):
    column = ctx.spec.target.pattern_column
    if column is None:
        return result(test, "warn", "target.pattern_column is not set: recall per pattern cannot be shown")
    raw = ctx.raw("validation")
    alerted = ctx.rule.adverse(ctx.p_val)
    fraud = ctx.y_val == 1
    amount = _amounts(ctx)
    overall = float(alerted[fraud].mean()) if fraud.any() else float("nan")
    rows = []
    for pattern in sorted(raw.loc[fraud, column].astype(str).unique()):
        mask = fraud & (raw[column].astype(str) == pattern).to_numpy()
        rows.append(
            {
                "pattern": pattern,
                "frauds": int(mask.sum()),
                "recall": float(alerted[mask].mean()),
                "value_detection_rate": float(amount[mask & alerted].sum() / amount[mask].sum()),
            }
        )
    table = pd.DataFrame(rows)
    weak = table[(table["frauds"] >= 10) & (table["recall"] < overall / 2)]
    shown = ", ".join(f"{r.pattern} {r.recall:.0%} (n={r.frauds})" for r in table.itertuples())
    return result(
        test,
        "warn" if len(weak) else "pass",
        f"recall by pattern: {shown}",
        values={"weakest_recall": float(table["recall"].min()) if len(table) else float("nan")},
        tables={"patterns": table},
    )


@validation_test(
    "segments.alert_rate_ratio",
    "segments",
    "Alert-rate ratios by customer group",
    purpose="Alerts burden the customers reviewed (blocked cards, calls): no group should carry far more of them.",
    method="Per protected attribute: each group's alert rate against the reference group's, on the out-of-time "
    "validation sample; groups under fairness.min_group_size are shown, never judged.",
    high_risk_signs="A group alerted more than 1 / disparate_impact_floor times as often as the reference "
    "(1.25 with the four-fifths floor).",
    limitations="Differences can reflect different true fraud rates; the table shows those too.",
    thresholds=("disparate_impact_floor",),
    severity="high",
    remediation="Find the features that drive the gap (proxy screen) and test a model without them.",
    headline={"alert_rate_ratio_worst": "worst_ratio"},
    not_applicable=ONLY_FRAUD,
)
def alert_rate_ratio(ctx, test):
    groups = ctx.groups("validation")
    alerted = ctx.rule.adverse(ctx.p_val)
    limit = 1.0 / ctx.spec.thresholds.disparate_impact_floor
    rows = []
    for attribute in ctx.spec.protected_attributes:
        labels = groups[attribute.name].astype(str).to_numpy()
        reference = labels == attribute.reference
        ref_rate = float(alerted[reference].mean()) if reference.any() else float("nan")
        for group in sorted(set(labels)):
            mask = labels == group
            rate = float(alerted[mask].mean())
            rows.append(
                {
                    "attribute": attribute.name,
                    "group": group,
                    "count": int(mask.sum()),
                    "alert_rate": rate,
                    "fraud_rate": float(ctx.y_val[mask].mean()),
                    "ratio_to_reference": rate / ref_rate if ref_rate > 0 else float("nan"),
                    "judged": bool(mask.sum() >= ctx.spec.fairness.min_group_size),
                }
            )
    table = pd.DataFrame(rows)
    if table.empty:
        return result(test, "warn", "no protected attribute: alert-rate ratios cannot be assessed")
    judged = table[table["judged"]]
    worst = float(judged["ratio_to_reference"].max()) if len(judged) else float("nan")
    over = judged[judged["ratio_to_reference"] > limit]
    return result(
        test,
        "fail" if len(over) else "pass",
        f"largest alert-rate ratio to the reference group {worst:.2f} (limit {limit:.2f})"
        + (
            f"; over the limit: {', '.join(f'{r.attribute}={r.group}' for r in over.itertuples())}" if len(over) else ""
        ),
        values={"worst_ratio": worst},
        tables={"alert_rates": table},
    )


@validation_test(
    "data.label_delay",
    "data",
    "Label-delay rule of the store features (point-in-time labels)",
    purpose="A feature built from chargebacks may use only those that had arrived by the transaction's time; "
    "using later ones leaks the outcome into training and vanishes in production.",
    method="The training set's stored values are retrieved again through Feast's point-in-time join and every "
    "chargeback-derived feature is recounted independently from the raw arrival times (searchsorted by entity).",
    high_risk_signs="Any row counting a chargeback that arrived after the day the row was read.",
    limitations="Checks label-derived features; aggregates of the events themselves cannot leak labels.",
    severity="high",
    remediation="Stamp label-derived rows at the label's arrival time and rebuild the store.",
    not_applicable=ONLY_FRAUD,
)
def label_delay(ctx, test):
    from workbench.features import label_delay_violations, point_in_time_values, prepare_events

    # every event, warm-up included: labels of the first days count for the features of later ones
    events = prepare_events(ctx.spec, pd.read_parquet(ctx.data.path))
    stored = point_in_time_values(ctx.spec, events, ctx.data.sha256)
    leaks = label_delay_violations(ctx.spec, stored, events)
    if len(leaks):
        return result(
            test,
            "fail",
            "; ".join(
                f"{r.feature}: {r.rows} rows use up to {r.largest_excess:.0f} chargebacks not yet arrived"
                for r in leaks.itertuples()
            ),
            values={"leaking_rows": int(leaks["rows"].sum())},
            tables={"leaks": leaks},
        )
    checked = [f.name for f in ctx.spec.features.from_store if f.function == "chargeback_rate"]
    return result(
        test,
        "pass",
        f"{len(events)} events: no chargeback-derived feature ({', '.join(checked) or 'none'}) used a label "
        "before it arrived",
        values={"leaking_rows": 0},
    )


@validation_test(
    "data.train_serve_skew",
    "data",
    "Train-serve skew of the store features",
    purpose="Prove each feature is computed the same way for training (offline, point in time) and for scoring "
    "(online store), the first place fraud models break.",
    method="A seeded sample of feature_store.skew_sample events is replayed in time order: the online store (a "
    "scratch copy) is materialised up to just before each event and read as the server reads it; every feature "
    "is compared with Feast's offline point-in-time value. Largest absolute difference per feature.",
    high_risk_signs="Any feature differing by more than feature_store.skew_tolerance (1e-9), or present on one "
    "side only.",
    limitations="A sample, not every event; the request-time step is shared by construction.",
    severity="high",
    remediation="Make the online and offline definitions one (a shared view), then rebuild and re-run.",
    headline={"skew_max_difference": "max_abs_difference"},
    not_applicable=ONLY_FRAUD,
)
def train_serve_skew(ctx, test):
    from workbench.features import skew_check

    settings = ctx.spec.feature_store
    events = ctx.raw("validation")  # the out-of-time events, replayed as the server would have seen them
    report = skew_check(ctx.spec, events, sample=settings.skew_sample, seed=ctx.spec.split.seed)
    worst = report.worst
    passed = bool((report.table["max_abs_difference"] <= settings.skew_tolerance).all())
    return result(
        test,
        "pass" if passed else "fail",
        f"{report.events} events replayed online: largest difference {worst['max_abs_difference']:.3g} "
        f"({worst['feature']}); tolerance {settings.skew_tolerance:g}",
        values={"max_abs_difference": float(report.table["max_abs_difference"].max()), "events": report.events},
        tables={"skew": report.table},
    )
