"""The monitoring metrics a model kind declares (``workbench.kinds``), per period, from production decisions.

A kind names its metrics; this module implements each name once, on one period's decisions, so a kind's
monitoring is the table of its names by period. The fraud kind's are what a fraud-operations lead watches:
the alert rate; the confirmed-fraud rate and the precision of alerts as chargebacks arrive (counting only
chargebacks that had arrived by the time of the report); recall only once the period's label window has
closed (before, frauds whose chargeback is still on its way would count as misses); score and feature drift
against the validation reference; and the largest alert-rate ratio between customer groups.

Input is a frame of decisions with ``time``, ``score``, ``decision`` and the features as recorded, the
protected groups by attribute name, and, where known, ``outcome`` (1 = adverse: a confirmed fraud, a sale)
with ``label_time``, when the outcome arrived. It adds to the period-count monitor (``Monitor``) and leaves
it as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.metrics import roc_auc_score

from workbench.kinds import kind_of
from workbench.monitoring._monitor import period_labels
from workbench.monitoring._reference import MonitoringReference
from workbench.stats import psi_from_counts


@dataclass(frozen=True)
class PeriodDecisions:
    """One period's decisions with what is known of their outcomes at ``as_of``."""

    period: str
    start: pd.Timestamp
    end: pd.Timestamp
    frame: pd.DataFrame
    reference: MonitoringReference
    as_of: pd.Timestamp

    @property
    def adverse(self) -> np.ndarray:
        """True where the decision was the adverse one (an alert; for propensity, no contact)."""
        return (self.frame["decision"] == self.reference.rule.adverse_label).to_numpy()

    @property
    def confirmed(self) -> np.ndarray:
        """True where an adverse outcome (a fraud's chargeback) had arrived by ``as_of``."""
        if "outcome" not in self.frame:
            return np.zeros(len(self.frame), dtype=bool)
        arrived = self.arrived
        return arrived & (self.frame["outcome"].to_numpy(dtype=float) == 1)

    @property
    def arrived(self) -> np.ndarray:
        """True where the outcome was known by ``as_of`` (no ``label_time``: known when recorded)."""
        if "outcome" not in self.frame:
            return np.zeros(len(self.frame), dtype=bool)
        known = self.frame["outcome"].notna().to_numpy()
        if "label_time" in self.frame:
            times = pd.to_datetime(self.frame["label_time"], utc=True)
            known &= (times <= self.as_of).fillna(False).to_numpy(dtype=bool)
        return known

    def window_closed(self, days: float) -> bool:
        """Whether every label of the period has had ``days`` to arrive by ``as_of``."""
        return self.end + pd.Timedelta(days=days) <= self.as_of


Metric = Callable[[PeriodDecisions], float]
METRICS: dict[str, Metric] = {}


def monitoring_metric(name: str) -> Callable[[Metric], Metric]:
    """Register the implementation of a metric a kind may name."""

    def decorate(function: Metric) -> Metric:
        if name in METRICS:
            raise ValueError(f"monitoring metric {name!r} is registered twice")
        METRICS[name] = function
        return function

    return decorate


def _rate(flags: np.ndarray) -> float:
    return float(flags.mean()) if len(flags) else float("nan")


@monitoring_metric("alert_rate")
def alert_rate(p: PeriodDecisions) -> float:
    """Share of transactions alerted."""
    return _rate(p.adverse)


@monitoring_metric("confirmed_fraud_rate")
def confirmed_fraud_rate(p: PeriodDecisions) -> float:
    """Share of the period's transactions with a chargeback arrived so far."""
    return _rate(p.confirmed)


@monitoring_metric("precision")
def precision(p: PeriodDecisions) -> float:
    """Share of alerts confirmed as fraud so far (rises as chargebacks arrive)."""
    alerts = p.adverse
    return float(p.confirmed[alerts].mean()) if alerts.any() else float("nan")


@monitoring_metric("recall")
def recall(p: PeriodDecisions) -> float:
    """Share of the period's confirmed frauds that were alerted; NaN until the label window has closed."""
    if not p.window_closed(p.reference.spec.monitoring.label_window_days):
        return float("nan")
    frauds = p.confirmed
    return float(p.adverse[frauds].mean()) if frauds.any() else float("nan")


def _score_counts(p: PeriodDecisions) -> np.ndarray:
    return p.reference.score_bins.counts(p.frame["score"].to_numpy(dtype=float))


@monitoring_metric("score_drift")
@monitoring_metric("score_psi")
def score_drift(p: PeriodDecisions) -> float:
    """PSI of the period's scores against the validation reference."""
    return psi_from_counts(p.reference.score_counts, _score_counts(p))


@monitoring_metric("feature_drift")
@monitoring_metric("feature_csi")
def feature_drift(p: PeriodDecisions) -> float:
    """The largest PSI of any input against the validation reference."""
    worst = 0.0
    for name, feature in p.reference.features.items():
        if name not in p.frame:
            continue
        if feature.kind == "numeric":
            counts = feature.bin_counts(p.frame[name].to_numpy(dtype=float))
        else:
            counts = feature.bins.counts(p.frame[name].dropna().astype(str))
        worst = max(worst, psi_from_counts(feature.counts, counts))
    return worst


def _group_rates(p: PeriodDecisions, flags: np.ndarray) -> dict[str, tuple[float, dict[str, float]]]:
    """Per protected attribute: the reference group's rate, and every other group's (groups of enough decisions)."""
    out = {}
    least = p.reference.spec.monitoring.min_group_decisions
    for attribute in p.reference.spec.protected_attributes:
        if attribute.name not in p.frame:
            continue
        groups = p.frame[attribute.name].astype(str).to_numpy()
        rates = {g: flags[groups == g].mean() for g in np.unique(groups) if (groups == g).sum() >= least}
        if attribute.reference in rates:
            out[attribute.name] = (float(rates.pop(attribute.reference)), rates)
    return out


@monitoring_metric("alert_rate_ratio")
def alert_rate_ratio(p: PeriodDecisions) -> float:
    """The largest ratio of a group's alert rate to the reference group's (groups of enough decisions)."""
    ratios = [
        rate / reference
        for reference, rates in _group_rates(p, p.adverse).values()
        for rate in rates.values()
        if reference > 0
    ]
    return float(max(ratios)) if ratios else float("nan")


@monitoring_metric("disparate_impact")
@monitoring_metric("offer_rate_ratio")
def favourable_rate_ratio(p: PeriodDecisions) -> float:
    """The smallest ratio of a group's favourable rate (approval, offer) to the reference group's."""
    ratios = [
        rate / reference
        for reference, rates in _group_rates(p, ~p.adverse).values()
        for rate in rates.values()
        if reference > 0
    ]
    return float(min(ratios)) if ratios else float("nan")


@monitoring_metric("approval_rate")
@monitoring_metric("contact_rate")
def favourable_rate(p: PeriodDecisions) -> float:
    """Share of favourable decisions (approved; contacted)."""
    return _rate(~p.adverse)


@monitoring_metric("response_rate")
def response_rate(p: PeriodDecisions) -> float:
    """Share of adverse outcomes (purchases) among outcomes known so far."""
    known = p.arrived
    return float(p.confirmed[known].mean()) if known.any() else float("nan")


@monitoring_metric("auc")
def auc(p: PeriodDecisions) -> float:
    """AUC of the scores on the outcomes known so far (NaN with one class only)."""
    known = p.arrived
    outcomes = p.frame["outcome"].to_numpy(dtype=float)[known] if known.any() else np.array([])
    if len(np.unique(outcomes)) < 2:
        return float("nan")
    return float(roc_auc_score(outcomes, p.frame["score"].to_numpy(dtype=float)[known]))


def kind_metrics(
    reference: MonitoringReference, decisions: pd.DataFrame, as_of: pd.Timestamp | str, period: str | None = None
) -> pd.DataFrame:
    """One row per period: decisions, whether the label window has closed, and every metric the kind declares."""
    kind = kind_of(reference.spec)
    unknown = [name for name in kind.monitoring if name not in METRICS]
    if unknown:
        raise KeyError(f"kind {kind.name!r} names monitoring metrics with no implementation: {', '.join(unknown)}")
    as_of = pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    period = period or reference.spec.monitoring.period
    times = pd.to_datetime(decisions["time"], utc=True)
    labels = period_labels(pa.array(times), period)
    rows = []
    for label in sorted(set(labels)):
        chosen = labels == label
        span = pd.Period(label, freq=period)
        start = span.start_time.tz_localize("UTC")
        end = span.end_time.tz_localize("UTC")
        part = PeriodDecisions(label, start, end, decisions[chosen].reset_index(drop=True), reference, as_of)
        window = reference.spec.monitoring.label_window_days
        row = {"period": label, "decisions": int(chosen.sum()), "label_window_closed": part.window_closed(window)}
        row |= {name: METRICS[name](part) for name in kind.monitoring}
        rows.append(row)
    return pd.DataFrame(rows)
