"""Monitoring on simulated German production: drift statistics, alerts, false alarms, outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.monitoring import Monitor, build_reference, count_chunk, drift_table
from workbench.monitoring._drifting_population import Drift, ProductionSimulator
from workbench.stats import psi_from_counts
from workbench.training import model_inputs


@pytest.fixture(scope="module")
def reference(german_training, german_data, german_spec):
    inputs = model_inputs(german_data.frame, german_spec)
    validation = inputs.iloc[german_training.split.validation]
    scores = german_training.model.predict_proba(validation)[:, 1]
    return build_reference(german_spec, validation, scores, "german_credit", 1)


def _decisions(model, spec, simulator, periods, n, start=0):
    """Score simulated periods offline into the Parquet layout monitoring reads; returns frame and outcomes."""
    frames, outcome_rows = [], []
    for index in range(start, start + periods):
        period = simulator.period(index, n)
        frame = pd.DataFrame(period.applications)
        scores = model.predict_proba(frame.astype({c: float for c in spec.features.numeric}))[:, 1]
        ids = [f"{index:03d}-{i:06d}" for i in range(n)]
        frame.insert(0, "id", ids)
        frame["time"] = pd.Timestamp("2026-01-05", tz="UTC") + pd.Timedelta(weeks=index)
        frame["version"] = 1
        frame["route"] = "champion"
        frame["score"] = scores
        frame["decision"] = np.where(scores >= spec.decision.cutoff, "decline", "approve")
        frame["top_reason"] = "checking_status"
        frames.append(frame)
        outcome_rows.append(pd.DataFrame({"decision_id": ids, "outcome": period.outcomes}).join(period.groups))
    return pd.concat(frames, ignore_index=True), pd.concat(outcome_rows, ignore_index=True)


def _write(frame, folder):
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "part-0.parquet", index=False)
    return folder


def test_drift_statistics_equal_scipy_and_a_hand_worked_psi(reference, german_training, german_spec):
    simulator = ProductionSimulator(german_spec, Drift(amount_factor=1.6, purpose_weights={"car (new)": 3.0}), seed=4)
    frame, _ = _decisions(german_training.model, german_spec, simulator, 1, 700)
    table = drift_table(reference, count_chunk(frame, reference)).set_index("feature")
    validation = pd.DataFrame({n: reference.features[n].support for n in []})
    for name, feature in reference.features.items():
        sample = frame[name]
        if feature.kind == "numeric":
            ref_values = np.repeat(feature.support, feature.support_counts)
            expected = stats.ks_2samp(ref_values, sample.to_numpy(float), method="asymp")
            assert table.loc[name, "statistic"] == pytest.approx(expected.statistic, abs=1e-12), name
            assert table.loc[name, "p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12), name
        else:
            levels = sorted(set(feature.support) | set(sample.astype(str)))
            ref_counts = [dict(zip(feature.support, feature.support_counts, strict=True)).get(v, 0) for v in levels]
            sample_counts = [int((sample.astype(str) == v).sum()) for v in levels]
            keep = [i for i in range(len(levels)) if ref_counts[i] + sample_counts[i] > 0]
            expected = stats.chi2_contingency(
                np.array([[ref_counts[i] for i in keep], [sample_counts[i] for i in keep]]), correction=False
            )
            assert table.loc[name, "statistic"] == pytest.approx(expected.statistic, rel=1e-9), name
    # PSI by hand for credit amount: shares per reference decile, empty bins 1e-4, sum (a - e) ln(a / e)
    feature = reference.features["credit_amount"]
    edges = np.asarray(feature.bins.edges)
    ref_values = np.repeat(feature.support, feature.support_counts)
    e = np.array([np.sum(np.searchsorted(edges, ref_values) == i) for i in range(len(edges))]) / len(ref_values)
    codes = np.searchsorted(edges, frame["credit_amount"].to_numpy(float))
    a = np.array([np.sum(codes == i) for i in range(len(edges))]) / len(frame)
    e, a = np.where(e > 0, e, 1e-4), np.where(a > 0, a, 1e-4)  # empty bins only
    assert table.loc["credit_amount", "psi"] == pytest.approx(float(np.sum((a - e) * np.log(a / e))), abs=1e-12)
    assert table.loc["credit_amount", "psi"] > 0.1  # the injected drift shows
    del validation


def test_counts_add_up_across_chunks(reference, german_training, german_spec):
    frame, _ = _decisions(german_training.model, german_spec, ProductionSimulator(german_spec, seed=9), 1, 900)
    whole = count_chunk(frame, reference)
    parts = [count_chunk(chunk, reference) for chunk in np.array_split(frame, 7)]
    total = parts[0]
    for part in parts[1:]:
        total.add(part)
    pd.testing.assert_frame_equal(drift_table(reference, whole), drift_table(reference, total))
    assert total.rows == 900 and np.array_equal(total.score_bins, whole.score_bins)


def test_injected_drift_raises_an_alert_within_the_configured_periods(
    reference, german_training, german_spec, tmp_path
):
    drift = Drift(start_period=4, ramp_periods=2, amount_factor=2.0, purpose_weights={"car (new)": 4.0})
    frame, outcomes = _decisions(german_training.model, german_spec, ProductionSimulator(german_spec, drift, 1), 8, 400)
    folder = _write(frame, tmp_path / "decisions")
    period_of = pd.Series(frame["id"].str[:3].to_numpy(), index=frame["id"])
    result = Monitor(reference).run(folder, outcomes, period_of=period_of)
    drift_alerts = [a for a in result.alerts if a.kind in ("feature_drift", "score_drift")]
    first = min(a.period for a in drift_alerts)
    assert "004" <= first <= "005", [(a.period, a.message) for a in drift_alerts]  # start + ramp - 1 at the latest
    assert {a.subject for a in drift_alerts} >= {"credit_amount", "purpose"}
    # the shipped model's real age-band gap shows up as a fairness alert in every period, drift or not
    assert {a.period for a in result.alerts if a.kind == "fairness" and a.subject.startswith("age_group")}
    assert len(result.periods) == 8 and result.labelled == len(outcomes)


def test_stable_traffic_rarely_alarms(reference, german_training, german_spec, tmp_path):
    frame, _ = _decisions(german_training.model, german_spec, ProductionSimulator(german_spec, seed=2), 24, 500)
    folder = _write(frame, tmp_path / "decisions")
    period_of = pd.Series(frame["id"].str[:3].to_numpy(), index=frame["id"])
    result = Monitor(reference).run(folder, period_of=period_of)
    alarmed = {a.period for a in result.alerts if a.kind in ("feature_drift", "score_drift")}
    # PSI of 500 decisions against a 300-row reference has sampling noise well under the 0.25 band
    assert len(alarmed) / 24 <= 0.05, [(a.period, a.message) for a in result.alerts]
    assert result.periods["score_psi"].median() < 0.1


def test_outcome_metrics_equal_sklearn_and_fairness_uses_reported_groups(
    reference, german_training, german_spec, tmp_path
):
    from sklearn.metrics import roc_auc_score

    frame, outcomes = _decisions(german_training.model, german_spec, ProductionSimulator(german_spec, seed=5), 2, 600)
    folder = _write(frame, tmp_path / "decisions")
    period_of = pd.Series(frame["id"].str[:3].to_numpy(), index=frame["id"])
    result = Monitor(reference).run(folder, outcomes, period_of=period_of)
    first = frame[frame["id"].str.startswith("000")].merge(outcomes, left_on="id", right_on="decision_id")
    row = result.periods.set_index("period").loc["000"]
    assert row["auc"] == pytest.approx(roc_auc_score(first["outcome"], first["score"]), abs=1e-12)
    assert row["bad_rate"] == pytest.approx(first["outcome"].mean())
    fair = result.fairness[(result.fairness.period == "000") & (result.fairness.attribute == "sex")].set_index("group")
    approve = first["decision"] == "approve"
    expected = approve[first["sex"] == "female"].mean() / approve[first["sex"] == "male"].mean()
    assert fair.loc["female", "ratio"] == pytest.approx(expected)
    assert psi_from_counts(reference.score_counts, reference.score_counts) == 0.0


@pytest.mark.parametrize("period", ["D", "W", "M"])
def test_calendar_periods_match_pandas(reference, period):
    import pyarrow as pa

    times = pd.Series(pd.date_range("2025-12-25", "2026-03-10", freq="7h", tz="UTC"))
    ours = Monitor(reference, period)._period_keys(pa.array(times))
    expected = times.dt.tz_localize(None).dt.to_period(period).astype(str).to_numpy()
    assert (ours == expected).all()
