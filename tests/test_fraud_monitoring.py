"""The fraud kind's monitoring metrics by period, on generated decisions with a hand-checked figure for each:
alert rate, confirmed-fraud rate and precision as chargebacks arrive, recall only once the label window has
closed, score and feature drift, the alert-rate ratio between customer groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT

from workbench.spec import parse_spec

FRAUD_SPEC = ROOT / "notebooks" / "params" / "card_fraud.yaml"


def _spec():
    data = yaml.safe_load(FRAUD_SPEC.read_text("utf-8"))
    data["decision"]["cutoff"] = 0.5  # as training records it
    data["monitoring"] = {"period": "W", "label_window_days": 90, "min_group_decisions": 30}
    return parse_spec(data)


def _inputs(spec, n: int, rng: np.random.Generator, scale: float = 1.0) -> pd.DataFrame:
    frame = pd.DataFrame({name: rng.gamma(2.0, 10.0, n) * scale for name in spec.features.numeric})
    frame["channel"] = rng.choice(["online", "chip", "contactless"], n)
    frame["category"] = rng.choice(["food", "travel", "transport"], n)
    return frame


def _week(spec, start: str, rng, *, scale: float, frauds_alerted: int, arrived: list[str | None]) -> pd.DataFrame:
    """400 transactions: 20 alerted (8 of 200 women, 12 of 200 men), 8 frauds, the first ``frauds_alerted`` alerted."""
    from workbench.decision import decision_rule

    frame = _inputs(spec, 400, rng, scale)
    frame["time"] = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(400) * 1500, unit="s")  # < 7 days
    frame["sex"] = ["F"] * 200 + ["M"] * 200
    scores = np.full(400, 0.1)
    alerted = [*range(8), *range(200, 212)]  # 8 women, 12 men
    scores[alerted] = 0.9
    frame["score"] = scores
    frame["decision"] = decision_rule(spec).labels(scores)
    fraud_rows = alerted[:frauds_alerted] + [300 + i for i in range(8 - frauds_alerted)]
    frame["outcome"] = np.nan
    frame.loc[fraud_rows, "outcome"] = 1.0
    label_time = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    for row, when in zip(fraud_rows, arrived, strict=True):
        label_time[row] = pd.Timestamp(when, tz="UTC") if when else pd.NaT
    frame["label_time"] = label_time
    return frame


def test_fraud_monitoring_by_period_by_hand():
    from workbench.monitoring import build_reference, kind_metrics

    spec = _spec()
    rng = np.random.default_rng(3)
    reference_frame = _inputs(spec, 4000, rng)
    reference = build_reference(spec, reference_frame, rng.beta(1, 12, 4000), "card_fraud", 1)
    week1 = _week(spec, "2026-03-02", rng, scale=1.0, frauds_alerted=6, arrived=["2026-03-20"] * 8)
    # week 2: of the 5 alerted frauds 3 chargebacks have arrived by the report; the rest come later
    later = ["2026-03-25"] * 3 + ["2026-06-20"] * 5
    week2 = _week(spec, "2026-03-09", rng, scale=3.0, frauds_alerted=5, arrived=later)
    table = kind_metrics(reference, pd.concat([week1, week2], ignore_index=True), as_of="2026-06-10")

    assert table["period"].tolist() == ["2026-03-02/2026-03-08", "2026-03-09/2026-03-15"]
    one, two = table.iloc[0], table.iloc[1]
    assert one["decisions"] == two["decisions"] == 400
    assert one["alert_rate"] == pytest.approx(20 / 400)
    assert one["confirmed_fraud_rate"] == pytest.approx(8 / 400)
    assert one["precision"] == pytest.approx(6 / 20)
    assert bool(one["label_window_closed"]) and one["recall"] == pytest.approx(6 / 8)  # closed 2026-06-06
    assert two["confirmed_fraud_rate"] == pytest.approx(3 / 400)  # only the chargebacks arrived so far
    assert two["precision"] == pytest.approx(3 / 20)
    assert not bool(two["label_window_closed"]) and np.isnan(two["recall"])  # open until 2026-06-13
    assert one["alert_rate_ratio"] == pytest.approx((12 / 200) / (8 / 200))  # men against women: 1.5
    assert two["feature_drift"] > spec.thresholds.max_psi > one["feature_drift"]
    assert set(spec.thresholds.model_fields) and {"score_drift", "feature_drift"} <= set(table.columns)

    # the same report a month later: the chargebacks have arrived and the window has closed
    later_table = kind_metrics(reference, pd.concat([week1, week2], ignore_index=True), as_of="2026-07-01")
    assert later_table.iloc[1]["precision"] == pytest.approx(5 / 20)
    assert later_table.iloc[1]["recall"] == pytest.approx(5 / 8)


def test_a_kind_naming_an_unimplemented_metric_is_refused(monkeypatch):
    from dataclasses import replace

    from workbench.kinds import KINDS
    from workbench.monitoring import build_reference, kind_metrics

    spec = _spec()
    monkeypatch.setitem(KINDS, "fraud", replace(KINDS["fraud"], monitoring=("alert_rate", "chargeback_velocity")))
    rng = np.random.default_rng(1)
    reference = build_reference(spec, _inputs(spec, 200, rng), rng.random(200), "card_fraud", 1)
    with pytest.raises(KeyError, match="chargeback_velocity"):
        kind_metrics(reference, pd.DataFrame({"time": [], "score": [], "decision": []}), as_of="2026-01-01")
