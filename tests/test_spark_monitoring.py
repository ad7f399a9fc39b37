"""Monitoring on Spark (a real standalone cluster) gives the pandas engine's tables: PSI to 1e-12, AUC exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.monitoring import Monitor, build_reference, spark_monitor
from workbench.monitoring._drifting_population import Drift, ProductionSimulator
from workbench.training import model_inputs


@pytest.fixture(scope="module")
def reference(german_training, german_data, german_spec):
    inputs = model_inputs(german_data.frame, german_spec)
    validation = inputs.iloc[german_training.split.validation]
    scores = german_training.model.predict_proba(validation)[:, 1]
    return build_reference(german_spec, validation, scores, "german_credit", 1)


@pytest.fixture(scope="module")
def production(german_training, german_spec, tmp_path_factory):
    """Six drifting periods of decisions (two Parquet parts, a second version's rows too), outcomes and groups."""
    model, spec = german_training.model, german_spec
    simulator = ProductionSimulator(german_spec, Drift(start_period=3, ramp_periods=2, amount_factor=2.0), 4)
    frames, outcome_rows = [], []
    rng = np.random.default_rng(9)
    for index in range(6):
        period = simulator.period(index, 400)
        frame = pd.DataFrame(period.applications)
        scores = model.predict_proba(frame.astype({c: float for c in spec.features.numeric}))[:, 1]
        scores[::7] = np.round(scores[::7], 2)  # ties between scores, as a scorecard's points make them
        ids = [f"{index:03d}-{i:06d}" for i in range(len(frame))]
        frame.insert(0, "id", ids)
        # calendar time across month and week boundaries, minutes apart
        start = pd.Timestamp("2026-01-26", tz="UTC") + pd.Timedelta(days=5 * index)
        frame["time"] = start + pd.to_timedelta(rng.integers(0, 5 * 24 * 60, len(frame)), unit="min")
        frame["version"] = 1 if index != 5 else np.where(np.arange(len(frame)) % 4 == 0, 2, 1)
        frame["route"] = "champion"
        frame["score"] = scores
        frame["decision"] = np.where(scores >= spec.decision.cutoff, "decline", "approve")
        frame["top_reason"] = np.where(frame["decision"] == "decline", frame["checking_status"].astype(str), None)
        frames.append(frame)
        labelled = rng.random(len(frame)) < 0.7  # outcomes arrive for some decisions only
        outcome_rows.append(
            pd.DataFrame({"decision_id": ids, "outcome": period.outcomes}).join(period.groups)[labelled]
        )
    frame = pd.concat(frames, ignore_index=True)
    folder = tmp_path_factory.mktemp("decisions")
    frame.iloc[:1000].to_parquet(folder / "part-0.parquet", index=False)
    frame.iloc[1000:].to_parquet(folder / "part-1.parquet", index=False)
    outcomes = pd.concat(outcome_rows, ignore_index=True)
    outcomes["sex"] = outcomes["sex"].astype(object).where(np.arange(len(outcomes)) % 11 != 0, None)
    return folder, frame, outcomes


def _same(ours, theirs):
    """Equal tables: exact on counts, texts and AUC; 1e-12 on the other measures."""
    assert list(ours.periods["period"]) == list(theirs.periods["period"])
    for name in theirs.periods.columns:
        a, b = ours.periods[name], theirs.periods[name]
        if name in ("period", "most_drifted", "decisions", "auc", "gini", "labelled"):
            assert a.tolist() == b.tolist() or np.array_equal(a, b, equal_nan=True), name
        else:
            assert np.allclose(a.astype(float), b.astype(float), atol=1e-12, rtol=0, equal_nan=True), name
    drift_keys = ["period", "feature"]
    a, b = ours.drift.sort_values(drift_keys), theirs.drift.sort_values(drift_keys)
    assert a[drift_keys + ["test"]].to_numpy().tolist() == b[drift_keys + ["test"]].to_numpy().tolist()
    for name in ("psi", "statistic", "p_value"):
        assert np.allclose(a[name], b[name], atol=1e-12, rtol=0, equal_nan=True), name
    fair_keys = ["period", "attribute", "group"]
    a, b = ours.fairness.sort_values(fair_keys), theirs.fairness.sort_values(fair_keys)
    assert a[fair_keys + ["decisions"]].to_numpy().tolist() == b[fair_keys + ["decisions"]].to_numpy().tolist()
    assert np.array_equal(a["ratio"].to_numpy(float), b["ratio"].to_numpy(float), equal_nan=True)
    reason_keys = ["period", "feature"]
    a, b = ours.reasons.sort_values(reason_keys), theirs.reasons.sort_values(reason_keys)
    assert a.to_numpy().tolist() == b.to_numpy().tolist()
    assert ours.alerts == theirs.alerts and ours.breaches == theirs.breaches
    assert (ours.decisions, ours.labelled) == (theirs.decisions, theirs.labelled)


def test_simulated_periods_with_outcomes_equal_the_pandas_engine(spark, reference, production):
    session, _url = spark
    folder, frame, outcomes = production
    period_of = pd.Series(frame["id"].str[:3].to_numpy(), index=frame["id"])
    theirs = Monitor(reference).run(folder, outcomes, period_of=period_of)
    ours = spark_monitor(session, reference, folder, outcomes, period_of=period_of)
    assert theirs.labelled > 1000 and "auc" in theirs.periods and theirs.alerts and len(theirs.fairness)
    assert theirs.periods["max_feature_psi"].max() > 0.1  # the drift is there to be measured
    _same(ours, theirs)


@pytest.mark.parametrize("period", ["D", "W", "M"])
def test_calendar_periods_equal_the_pandas_engine(spark, reference, production, period):
    session, _url = spark
    folder, _frame, outcomes = production
    theirs = Monitor(reference, period).run(folder, outcomes)
    ours = spark_monitor(session, reference, folder, outcomes, period=period)
    _same(ours, theirs)
    assert ours.decisions == 6 * 400 - 100  # version 2's rows are left out


def test_auc_from_counts_equals_sklearn(production):
    from sklearn.metrics import roc_auc_score

    from workbench.monitoring import outcome_metrics
    from workbench.monitoring._outcome_counts import outcome_counts_of

    _folder, frame, outcomes = production
    joined = frame.merge(outcomes, left_on="id", right_on="decision_id").assign(period="all")
    metrics = outcome_metrics(outcome_counts_of(joined[["period", "score", "outcome"]]))
    assert metrics["auc"] == pytest.approx(roc_auc_score(joined["outcome"], joined["score"]), abs=1e-15)
    from scipy import stats

    ks = stats.ks_2samp(joined.loc[joined.outcome == 1, "score"], joined.loc[joined.outcome == 0, "score"]).statistic
    assert metrics["ks"] == pytest.approx(ks, abs=1e-15)


def test_the_monitor_command_on_spark_equals_pandas_on_served_decisions(spark, own_served_project, german_spec):
    from conftest import in_process_server, registry_client
    from typer.testing import CliRunner

    from workbench.cli import app
    from workbench.datasets import synthetic_german_credit
    from workbench.monitoring import run_monitoring

    _session, url = spark
    project = own_served_project.project
    frame = synthetic_german_credit(300, seed=3)[list(german_spec.features.all)]
    rows = frame.astype(object).to_dict("records")
    rows = [{k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in r.items()} for r in rows]
    with in_process_server(project) as (server, _app, _client, decisions):
        _answers, records = server.decide(rows, "los")
        decisions.append_now(records)
    with pytest.MonkeyPatch.context() as patch, registry_client(project) as client:
        patch.setenv("WORKBENCH_HOME", str(project))
        theirs = run_monitoring(client, "german_credit")
        ours = run_monitoring(client, "german_credit", engine="spark", spark_master=url)
        _same(ours, theirs)
        assert ours.decisions == 300
        shown = CliRunner().invoke(
            app, ["monitor", "german_credit", "--engine", "spark", "--spark-master", url, "--no-pdf"]
        )
        assert shown.exit_code == 0, shown.output
        assert "300 decisions" in shown.output
        wrong = CliRunner().invoke(app, ["monitor", "german_credit", "--engine", "flink"])
        assert wrong.exit_code == 2 and "--engine" in wrong.output
