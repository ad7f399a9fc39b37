"""The fraud kind: alert transactions for review within the review team's budget, on features from the store."""

from __future__ import annotations

from typing import Any

from workbench.kinds._common import COMMON_TESTS
from workbench.kinds._kind import Kind, register_kind

_CALIBRATION = (
    "a class-weighted fraud score ranks transactions and is not a calibrated probability; the fraud kind is judged "
    "by precision and recall at its alert budget instead"
)


def _requirements(spec: Any) -> list[tuple[str, str]]:
    """Entities, event time, an out-of-time split, one alert budget, the amount column, store features that fit."""
    problems: list[tuple[str, str]] = []
    decision = spec.decision
    if not spec.entities:
        problems.append(("entities", "a fraud model names its entities, e.g. {card: card_id, merchant: merchant_id}"))
    if spec.event_time is None:
        problems.append(("event_time", "a fraud model names the column with each transaction's time"))
    if spec.split.method != "out_of_time":
        problems.append(("split.method", "a fraud model is validated out of time: set out_of_time"))
    elif spec.event_time is not None and spec.split.date_column != spec.event_time:
        problems.append(("split.date_column", f"must be the event time {spec.event_time!r}"))
    if (decision.alert_rate is None) == (decision.max_alerts_per_day is None):
        problems.append(("decision.alert_rate", "give exactly one of alert_rate or max_alerts_per_day"))
    if decision.amount_column is None:
        problems.append(("decision.amount_column", "name the amount column: a missed fraud costs its amount"))
    names = [f.name for f in spec.features.from_store]
    for i, feature in enumerate(spec.features.from_store):
        key = f"features.from_store[{i}]"
        if feature.entity not in spec.entities:
            known = ", ".join(spec.entities)
            problems.append((f"{key}.entity", f"{feature.entity!r} is not one of entities ({known})"))
        if feature.name not in spec.features.numeric:
            problems.append((f"{key}.name", f"{feature.name!r} must also be listed in features.numeric"))
        if feature.name in names[:i]:
            problems.append((f"{key}.name", f"{feature.name!r} is defined twice"))
        if feature.function == "chargeback_rate" and spec.target.arrival_column is None:
            problems.append((f"{key}.function", "chargeback_rate needs target.arrival_column (when labels arrive)"))
    return problems


FRAUD = register_kind(
    Kind(
        name="fraud",
        title="card fraud",
        subject="transaction",
        subjects="transactions",
        decision="alert_budget",
        favourable="clear (no alert)",
        favourable_rate="clear rate",
        tests=(
            *COMMON_TESTS,
            "discrimination.average_precision",
            "decision.alert_budget",
            "stability.performance_by_period",
            "stability.alert_rate",
            "segments.fraud_patterns",
            "segments.alert_rate_ratio",
            "data.label_delay",
            "data.train_serve_skew",
        ),
        headline=(
            "average_precision",
            "fraud_rate",
            "recall_at_budget",
            "precision_at_budget",
            "value_detection_rate",
            "alert_rate",
            "false_positives_per_true_positive",
            "skew_max_difference",
            "alert_rate_ratio_worst",
        ),
        monitoring=(
            "alert_rate",
            "confirmed_fraud_rate",
            "precision",
            "recall",
            "score_drift",
            "feature_drift",
            "alert_rate_ratio",
        ),
        keys=(
            "entities",
            "event_time",
            "feature_store",
            "features.from_store",
            "target.arrival_column",
            "target.pattern_column",
            "decision.alert_rate",
            "decision.max_alerts_per_day",
            "decision.review_cost",
            "decision.amount_column",
            "thresholds.min_average_precision",
            "thresholds.min_recall_at_budget",
            "monitoring.label_window_days",
        ),
        lists_skipped=("credit",),
        skip_reasons={
            "backtesting": "PD back-tests compare predicted default probabilities with observed defaults; a fraud "
            "score is class-weighted (it ranks, it is no probability) and is judged by its alerts within the review "
            "budget",
            "calibration": _CALIBRATION,
            "segments.calibration": _CALIBRATION,
            "decision": "the credit decision (approve or decline at a cut-off with a cost matrix) does not apply; the "
            "fraud kind's decision is judged by decision.alert_budget",
            "soundness.coefficients": "the Wald table comes from a maximum-likelihood scorecard; the fraud kind's "
            "interpretable model is a penalised, class-weighted logit whose coefficients have no Wald p-values",
        },
        requirements=_requirements,
        benchmark=("penalised_logit", {"class_weight": "balanced"}),
        feature_store=True,
        alternatives_skip="the search compares approval rates under fair-lending rules; a fraud model's burden is its "
        "alerts, judged by the alert-rate ratios by group (segments.alert_rate_ratio), so no alternative was searched.",
        assumptions=(
            "Transactions scored in production resemble the development period's (checked by monitoring).",
            "A feature uses only events before the transaction and chargebacks that had arrived by then (the "
            "label-delay rule, checked by data.label_delay); the online store serves the same values (data."
            "train_serve_skew).",
            "Fraud patterns seen in development recur; new patterns are caught only as far as their features move.",
        ),
        limitations=(
            "Labels are chargebacks: frauds whose chargeback had not arrived when the data were drawn count as "
            "genuine, so recall is measured on the frauds known so far.",
            "Alerted transactions were reviewed, not left to run: the outcome of a transaction stopped by review "
            "is its reviewer's verdict, not an observed chargeback.",
        ),
        synthetic_note="The data are synthetic (generated, calibrated to published PaySim and BankSim statistics): "
        "the figures show the workbench at work, not the performance of a model on real card transactions.",
    )
)
