"""What a BSA/AML model validator computes on a transaction-monitoring model's alerts, as pure functions.

Each function takes arrays (scores, alerts from the decision rule, laundering and SAR labels, typologies,
customer groups) and returns an :class:`AmlStatistic`: an outcome (pass / warn / fail), a sentence a committee
reads, the figures and the tables. A kind module registers a validation test that calls one and hands the parts
to ``result(test, s.outcome, s.summary, values=s.values, tables=s.tables)``, exactly as the fraud tests build
theirs; a warn or fail then raises a finding by the usual rule.

- :func:`typology_coverage`: recall per laundering typology; a judged typology under the floor is a finding.
- :func:`alert_productivity`: share of alerts that become SARs, and share of SARs alerted.
- :func:`above_below_the_line`: the alerts against a seeded sample of the cases just under the threshold,
  reviewed against the labels: what the threshold misses.
- :func:`threshold_sensitivity`: alerts per day, recall and productivity at thresholds around the chosen one.
- :func:`segment_performance`: the same by customer type.
- :func:`alert_rate_ratios`: alert rates by customer group against a reference group, with the four-fifths view.

Hand-written: these are the domain's definitions (what a BTL sample is, what productivity means), each a few
lines of counting; the comparisons of scores with thresholds go through :class:`workbench.decision.AlertRule`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.decision import AlertRule


@dataclass
class AmlStatistic:
    """One validation statistic: outcome, the sentence that states it, its figures and tables."""

    outcome: str
    summary: str
    values: dict[str, float] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _bool(name: str, values, n: int | None = None) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name}: one value per case expected, got shape {array.shape}")
    if n is not None and len(array) != n:
        raise ValueError(f"{name}: {len(array)} values for {n} cases")
    if array.dtype != bool:
        if pd.isna(pd.Series(array)).any():
            raise ValueError(f"{name}: missing values")
        uniques = set(np.unique(array).tolist())
        if not uniques <= {0, 1}:
            raise ValueError(f"{name}: 0/1 or True/False expected, got values {sorted(uniques)[:5]}")
        array = array.astype(bool)
    return array


def _labels(name: str, values, n: int) -> np.ndarray:
    array = np.asarray(values)
    if len(array) != n:
        raise ValueError(f"{name}: {len(array)} values for {n} cases")
    return pd.Series(array).astype(str).to_numpy()


def _scores(scores, n: int | None = None) -> np.ndarray:
    array = np.asarray(scores, dtype=float)
    if n is not None and len(array) != n:
        raise ValueError(f"scores: {len(array)} values for {n} cases")
    if np.isnan(array).any():
        raise ValueError(f"scores: {int(np.isnan(array).sum())} missing score(s)")
    return array


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else float("nan")


def typology_coverage(
    typology: Sequence[str],
    alerted: Sequence[bool],
    *,
    recall_floor: float = 0.5,
    min_cases: int = 10,
    none_label: str = "none",
) -> AmlStatistic:
    """Recall per typology: the share of each typology's laundering cases that were alerted.

    ``typology`` is the case's typology (``none_label`` for ordinary cases), ``alerted`` the decision rule's
    alerts. A typology with ``min_cases`` or more cases and a recall under ``recall_floor`` fails (a coverage
    finding names it); smaller ones are shown, never judged.
    """
    alerted = _bool("alerted", alerted)
    kinds = _labels("typology", typology, len(alerted))
    laundering = kinds != none_label
    rows = []
    for name in sorted(set(kinds[laundering].tolist())):
        mask = kinds == name
        cases, hit = int(mask.sum()), int((mask & alerted).sum())
        rows.append(
            {"typology": name, "cases": cases, "alerted": hit, "recall": hit / cases, "judged": cases >= min_cases}
        )
    table = pd.DataFrame(rows, columns=["typology", "cases", "alerted", "recall", "judged"])
    overall = _ratio((laundering & alerted).sum(), laundering.sum())
    missed = table[table["judged"] & (table["recall"] < recall_floor)]
    shown = ", ".join(f"{r.typology} {r.recall:.0%} (n={r.cases})" for r in table.itertuples()) or "none"
    summary = f"recall by typology: {shown}; overall {overall:.1%}"
    if len(missed):
        summary += f"; below the {recall_floor:.0%} floor: " + ", ".join(
            f"{r.typology} ({r.alerted} of {r.cases} alerted)" for r in missed.itertuples()
        )
    return AmlStatistic(
        outcome="fail" if len(missed) else ("warn" if table.empty else "pass"),
        summary=summary if not table.empty else "no laundering cases: typology coverage cannot be measured",
        values={
            "overall_recall": overall,
            "weakest_recall": float(table.loc[table["judged"], "recall"].min())
            if table["judged"].any()
            else float("nan"),
            "typologies_below_floor": float(len(missed)),
        },
        tables={"typologies": table},
    )


def alert_productivity(alerted: Sequence[bool], sar: Sequence[bool], *, floor: float | None = None) -> AmlStatistic:
    """Alert productivity (share of alerts that became SARs) and SAR capture (share of SARs that were alerted).

    Warns when productivity is below ``floor`` (if given) or there are no alerts.
    """
    alerted = _bool("alerted", alerted)
    sar = _bool("sar", sar, len(alerted))
    alerts, sars = int(alerted.sum()), int(sar.sum())
    productive = int((alerted & sar).sum())
    productivity, capture = _ratio(productive, alerts), _ratio(productive, sars)
    outcome = "warn" if not alerts or (floor is not None and productivity < floor) else "pass"
    table = pd.DataFrame(
        [
            {"": "alerted", "sar": productive, "no_sar": alerts - productive, "total": alerts},
            {
                "": "not alerted",
                "sar": sars - productive,
                "no_sar": len(sar) - alerts - sars + productive,
                "total": len(sar) - alerts,
            },  # fmt: skip
        ]
    )
    return AmlStatistic(
        outcome=outcome,
        summary=f"{productive} of {alerts} alerts became SARs (productivity {productivity:.1%}"
        + (f", floor {floor:.1%}" if floor is not None else "")
        + f"); {productive} of {sars} SARs were alerted ({capture:.1%})",
        values={"alerts": float(alerts), "sars": float(sars), "productivity": productivity, "sar_capture": capture},
        tables={"alerts_by_outcome": table},
    )


def above_below_the_line(
    scores: Sequence[float],
    threshold: float,
    sar: Sequence[bool],
    *,
    band: int | None = None,
    sample_size: int = 100,
    seed: int = 0,
    warn_ratio: float = 0.5,
) -> AmlStatistic:
    """Above- and below-the-line testing: the alerts against a reviewed sample of cases just under the line.

    Below the line is the ``band`` highest-scoring cases the rule at ``threshold`` does not alert (default: as
    many as it alerts); a seeded random sample of ``sample_size`` of them is "reviewed" against the SAR labels.
    Warns when the sample holds SARs at a rate of at least ``warn_ratio`` times the alerts' productivity (the
    line may be too high: cases just under it are nearly as productive as those above). ``missed_sars_in_band`` counts
    every SAR in the band: what lowering the threshold to the band's bottom would add.
    """
    scores = _scores(scores)
    sar = _bool("sar", sar, len(scores))
    alerted = AlertRule(threshold).adverse(scores)
    below = np.flatnonzero(~alerted)
    band = int(alerted.sum()) if band is None else int(band)
    if band < 1:
        raise ValueError(f"band: at least 1 case below the line, got {band}")
    if sample_size < 1:
        raise ValueError(f"sample_size: at least 1, got {sample_size}")
    # the band: highest scores below the line (ties broken by position, so the band is reproducible)
    ranked = below[np.lexsort((below, -scores[below]))][:band]
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(ranked, size=min(sample_size, len(ranked)), replace=False)) if len(ranked) else ranked
    above_rate = _ratio(sar[alerted].sum(), alerted.sum())
    sample_rate = _ratio(sar[sample].sum(), len(sample))
    rows = [
        {"group": "above the line (alerts)", "cases": int(alerted.sum()), "sars": int(sar[alerted].sum()),
         "sar_rate": above_rate, "lowest_score": float(scores[alerted].min()) if alerted.any() else float("nan")},
        {"group": "below the line (band)", "cases": len(ranked), "sars": int(sar[ranked].sum()),
         "sar_rate": _ratio(sar[ranked].sum(), len(ranked)),
         "lowest_score": float(scores[ranked].min()) if len(ranked) else float("nan")},
        {"group": "below the line (reviewed sample)", "cases": len(sample), "sars": int(sar[sample].sum()),
         "sar_rate": sample_rate, "lowest_score": float(scores[sample].min()) if len(sample) else float("nan")},
    ]  # fmt: skip
    # warn when the reviewed sample finds SARs at a rate close to the alerts' (or the alerts find none)
    found = bool(len(sample)) and bool(sar[sample].any())
    close = found and (not above_rate == above_rate or sample_rate >= warn_ratio * above_rate)
    return AmlStatistic(
        outcome="warn" if close else "pass",
        summary=f"above the line {above_rate:.1%} of {int(alerted.sum())} alerts are SARs; a sample of "
        f"{len(sample)} of the {len(ranked)} cases just below holds {int(sar[sample].sum())} SAR(s) "
        f"({sample_rate:.1%}); the band holds {int(sar[ranked].sum())} SAR(s) the threshold misses",
        values={
            "above_sar_rate": above_rate,
            "below_sample_sar_rate": sample_rate,
            "missed_sars_in_band": float(sar[ranked].sum()),
            "band": float(len(ranked)),
        },
        tables={
            "above_below": pd.DataFrame(rows),
            "reviewed_sample": pd.DataFrame({"case": sample, "score": scores[sample], "sar": sar[sample].astype(int)}),
        },  # fmt: skip
    )


def neighbour_thresholds(
    scores: Sequence[float], threshold: float, factors: Sequence[float] = (0.5, 0.75, 1.25, 1.5, 2.0)
) -> list[float]:
    """Thresholds that alert ``factor`` times as many cases as ``threshold`` does, plus ``threshold`` itself."""
    scores = _scores(scores)
    alerts = max(1, int(AlertRule(threshold).adverse(scores).sum()))
    ordered = np.sort(scores)[::-1]
    found = {float(threshold)}
    for factor in factors:
        k = int(min(len(ordered), max(1, round(alerts * factor))))
        found.add(float(ordered[k - 1]))
    return sorted(found)


def threshold_sensitivity(
    scores: Sequence[float],
    laundering: Sequence[bool],
    sar: Sequence[bool],
    days: float,
    thresholds: Sequence[float],
    *,
    chosen: float | None = None,
) -> AmlStatistic:
    """Alerts, alerts per day, recall (of laundering) and productivity (SARs per alert) at each threshold.

    ``days`` is the span the cases cover. Informative (always passes): the committee sees what moving the line
    costs in alerts and buys in recall. ``chosen`` marks the threshold in use.
    """
    scores = _scores(scores)
    laundering = _bool("laundering", laundering, len(scores))
    sar = _bool("sar", sar, len(scores))
    if not days > 0:
        raise ValueError(f"days: must be positive, got {days}")
    if not len(thresholds):
        raise ValueError("thresholds: at least one")
    rows = []
    for t in sorted(set(float(x) for x in thresholds)):
        alerted = AlertRule(t).adverse(scores)
        alerts = int(alerted.sum())
        rows.append(
            {
                "threshold": t,
                "chosen": chosen is not None and t == float(chosen),
                "alerts": alerts,
                "alerts_per_day": alerts / days,
                "recall": _ratio((alerted & laundering).sum(), laundering.sum()),
                "productivity": _ratio((alerted & sar).sum(), alerts),
            }
        )
    table = pd.DataFrame(rows)
    low, high = table.iloc[0], table.iloc[-1]
    return AmlStatistic(
        outcome="pass",
        summary=f"from threshold {low.threshold:.4g} to {high.threshold:.4g}: {low.alerts_per_day:.1f} to "
        f"{high.alerts_per_day:.1f} alerts a day, recall {low.recall:.1%} to {high.recall:.1%}, productivity "
        f"{low.productivity:.1%} to {high.productivity:.1%}",
        values={"thresholds": float(len(table))},
        tables={"sensitivity": table},
    )


def segment_performance(
    segment: Sequence[str], alerted: Sequence[bool], laundering: Sequence[bool], sar: Sequence[bool],
    *, min_cases: int = 10, recall_floor: float | None = None,
) -> AmlStatistic:  # fmt: skip
    """Alert rate, laundering rate, recall and productivity per customer segment (e.g. business type).

    With ``recall_floor``, a segment with ``min_cases`` laundering cases or more and recall below it warns.
    """
    alerted = _bool("alerted", alerted)
    laundering = _bool("laundering", laundering, len(alerted))
    sar = _bool("sar", sar, len(alerted))
    groups = _labels("segment", segment, len(alerted))
    rows = []
    for name in sorted(set(groups.tolist())):
        m = groups == name
        rows.append(
            {
                "segment": name,
                "cases": int(m.sum()),
                "alerts": int((m & alerted).sum()),
                "alert_rate": float(alerted[m].mean()),
                "laundering_cases": int((m & laundering).sum()),
                "laundering_rate": float(laundering[m].mean()),
                "recall": _ratio((m & alerted & laundering).sum(), (m & laundering).sum()),
                "productivity": _ratio((m & alerted & sar).sum(), (m & alerted).sum()),
            }
        )
    table = pd.DataFrame(rows)
    weak = (
        table[(table["laundering_cases"] >= min_cases) & (table["recall"] < recall_floor)]
        if recall_floor is not None
        else table.iloc[0:0]
    )
    shown = ", ".join(f"{r.segment} alert rate {r.alert_rate:.2%}, recall {r.recall:.0%}" for r in table.itertuples())
    return AmlStatistic(
        outcome="warn" if len(weak) else "pass",
        summary=shown + (f"; recall below {recall_floor:.0%}: {', '.join(weak['segment'])}" if len(weak) else ""),
        values={"segments": float(len(table)), "weak_segments": float(len(weak))},
        tables={"segments": table},
    )


def alert_rate_ratios(
    groups: Mapping[str, Sequence[str]],
    alerted: Sequence[bool],
    references: Mapping[str, str],
    *,
    laundering: Sequence[bool] | None = None,
    floor: float = 0.8,
    min_group_size: int = 30,
) -> AmlStatistic:
    """Alert rates by customer group against each attribute's reference group, with the four-fifths view.

    For each attribute (``groups[name]`` labels every case; ``references[name]`` is its reference group):
    ``alert_rate_ratio`` is the group's alert rate over the reference's (an alert is a burden: reviewed
    accounts, questions, exits) and ``clear_rate_ratio`` the four-fifths rule's ratio on the favourable
    outcome (not alerted). A judged group (``min_group_size`` cases or more) fails when its alert-rate ratio
    exceeds 1 / ``floor`` (1.25 with four fifths) or its clear-rate ratio falls below ``floor``. The laundering
    rate per group (when given) shows how much of a gap true rates explain.
    """
    alerted = _bool("alerted", alerted)
    truth = _bool("laundering", laundering, len(alerted)) if laundering is not None else None
    if not 0 < floor <= 1:
        raise ValueError(f"floor: between 0 and 1, got {floor}")
    rows = []
    for attribute, labels in groups.items():
        if attribute not in references:
            raise ValueError(f"references: no reference group for attribute {attribute!r}")
        labels = _labels(f"groups[{attribute!r}]", labels, len(alerted))
        reference = str(references[attribute])
        ref = labels == reference
        if not ref.any():
            raise ValueError(f"references[{attribute!r}]: group {reference!r} has no cases")
        ref_alert = float(alerted[ref].mean())
        ref_clear = 1.0 - ref_alert
        for group in sorted(set(labels.tolist())):
            m = labels == group
            rate = float(alerted[m].mean())
            rows.append(
                {
                    "attribute": attribute,
                    "group": group,
                    "reference": group == reference,
                    "cases": int(m.sum()),
                    "alert_rate": rate,
                    "alert_rate_ratio": _ratio(rate, ref_alert),
                    "clear_rate_ratio": _ratio(1.0 - rate, ref_clear),
                    "laundering_rate": float(truth[m].mean()) if truth is not None else float("nan"),
                    "judged": bool(m.sum() >= min_group_size),
                }
            )
    table = pd.DataFrame(rows)
    judged = table[table["judged"]]
    over = judged[(judged["alert_rate_ratio"] > 1.0 / floor) | (judged["clear_rate_ratio"] < floor)]
    worst = float(judged["alert_rate_ratio"].max()) if len(judged) else float("nan")
    summary = f"largest alert-rate ratio to the reference group {worst:.2f} (limit {1 / floor:.2f}); lowest " + (
        f"clear-rate ratio {judged['clear_rate_ratio'].min():.3f} (four-fifths floor {floor:.2f})"
        if len(judged)
        else "clear-rate ratio: no judged group"
    )
    if len(over):
        summary += "; over the limit: " + ", ".join(
            f"{r.attribute}={r.group} ({r.alert_rate:.2%} against {r.alert_rate / r.alert_rate_ratio:.2%})"
            if r.alert_rate_ratio == r.alert_rate_ratio and r.alert_rate_ratio > 0
            else f"{r.attribute}={r.group}"
            for r in over.itertuples()
        )
    return AmlStatistic(
        outcome="fail" if len(over) else "pass",
        summary=summary,
        values={"worst_alert_rate_ratio": worst, "groups_over_limit": float(len(over))},
        tables={"alert_rates": table},
    )
