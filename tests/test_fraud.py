"""The fraud kind on a real local Feast store: the generator, the spec, point-in-time training sets under the
label-delay rule (a leaky join caught), the skew check (clean, and a skewed feature caught), the alert-budget
rule, the fraud validation tests and the credit-only tests skipping themselves."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT

from workbench.datasets import CALIBRATION, calibration_table, synthetic_card_transactions
from workbench.spec import SpecError, load_spec, parse_spec

FRAUD_SPEC = ROOT / "notebooks" / "params" / "card_fraud.yaml"
GERMAN = ROOT / "notebooks" / "params" / "german_credit.yaml"


def fraud_dict(rows: int = 12_000, **overrides) -> dict:
    data = yaml.safe_load(FRAUD_SPEC.read_text("utf-8"))
    data["dataset"] = {"name": "card_transactions", "rows": rows, "seed": 7}
    data["feature_store"] = {"skew_sample": 12, "warm_up_days": 14}
    data["split"]["validation_start"] = "2026-03-01"
    data["thresholds"]["min_adverse_count"] = 5
    for key, value in overrides.items():
        data[key] = value
    return data


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project of the test's own (registry_store/ holds the generated data and the feature store)."""
    (tmp_path / "registry_store").mkdir()
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    return tmp_path


# --- the generator ------------------------------------------------------------------------------------------------


def test_generator_is_deterministic_by_seed_and_calibrated():
    a = synthetic_card_transactions(50_000, seed=3)
    assert a.equals(synthetic_card_transactions(50_000, seed=3))
    assert not a.equals(synthetic_card_transactions(50_000, seed=4))
    assert len(a) == 50_000 and a["transaction_id"].is_unique
    rate = a["is_fraud"].mean()
    assert 0.0005 < rate < 0.01  # PaySim's 0.129%, well under 1%
    assert set(a.loc[a["is_fraud"] == 1, "fraud_pattern"]) == {
        "account_takeover",
        "card_testing",
        "merchant_compromise",
    }
    assert (a.loc[a["is_fraud"] == 0, "fraud_pattern"] == "none").all()
    # chargebacks arrive 2 to 90 days after the fraud, never for a genuine transaction
    delay = (a["chargeback_time"] - a["event_time"]) / pd.Timedelta(days=1)
    assert a.loc[a["is_fraud"] == 0, "chargeback_time"].isna().all()
    assert delay[a["is_fraud"] == 1].between(2, 90).all()
    # one timeline per card: no two events of a card at the same instant; sorted by time
    assert not a.duplicated(["card_id", "event_time"]).any()
    assert a["event_time"].is_monotonic_increasing
    # BankSim's largest category, and card testing is many small amounts
    assert a["category"].value_counts(normalize=True).index[0] == "transportation"
    testing = a.loc[a["fraud_pattern"] == "card_testing", "amount"]
    assert testing.max() <= 10.0 < a.loc[a["fraud_pattern"] == "account_takeover", "amount"].median()


def test_calibration_table_names_its_sources():
    table = calibration_table()
    assert len(table) == len(CALIBRATION)
    assert {"PaySim", "BankSim", "assumption"} <= set(table["source"])
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "0.129% (8,213 of 6,362,620)" in readme and "kaggle.com/datasets/ealaxi/banksim1" in readme


def test_generator_refuses_bad_arguments():
    with pytest.raises(ValueError, match="n_transactions"):
        synthetic_card_transactions(10)
    with pytest.raises(ValueError, match="fraud_rate"):
        synthetic_card_transactions(1000, fraud_rate=0.5)


# --- the spec -----------------------------------------------------------------------------------------------------


def test_shipped_fraud_spec_is_valid_and_german_stays_credit():
    spec = load_spec(FRAUD_SPEC)
    assert spec.kind == "fraud" and spec.split.method == "out_of_time"
    assert spec.decision.cutoff is None and spec.decision.alert_rate
    assert load_spec(GERMAN).kind == "credit"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d["split"].update(method="random"), "split.method"),
        (lambda d: d.pop("entities"), "entities"),
        (lambda d: d["decision"].update(max_alerts_per_day=50), "decision.alert_rate"),
        (lambda d: d["features"]["from_store"][0].update(entity="terminal"), "features.from_store[0].entity"),
        (lambda d: d["features"]["numeric"].remove("card_count_1h"), "features.from_store[0].name"),
        (
            lambda d: d["features"]["from_store"][0].update(window="1w"),
            "features.from_store[0].window: '1w' is not a window",
        ),
        (lambda d: d["target"].pop("arrival_column"), "features.from_store[7].function"),
    ],
)
def test_bad_fraud_spec_names_the_key(change, key):
    data = fraud_dict()
    change(data)
    with pytest.raises(SpecError) as error:
        parse_spec(data)
    assert key in str(error.value)


def test_credit_spec_refuses_fraud_keys_and_needs_a_cutoff():
    data = yaml.safe_load(GERMAN.read_text("utf-8"))
    broken = copy.deepcopy(data)
    broken["entities"] = {"card": "card_id"}
    del broken["decision"]["cutoff"]
    with pytest.raises(SpecError) as error:
        parse_spec(broken)
    assert "entities: only for kind: fraud" in str(error.value)
    assert "decision.cutoff: required key is missing" in str(error.value)


# --- the decision rule --------------------------------------------------------------------------------------------


def test_alert_budget_becomes_a_threshold_and_the_fraud_rule_alerts():
    from workbench.decision import AlertRule, alert_rule_for_budget, budget_alert_rate, decision_rule

    spec = load_spec(FRAUD_SPEC)
    scores = np.random.default_rng(0).random(10_000)
    rule = alert_rule_for_budget(spec, scores, days=10)
    assert isinstance(rule, AlertRule)
    assert rule.adverse(scores).mean() == pytest.approx(spec.decision.alert_rate, abs=1e-4)
    assert rule.label(rule.threshold) == "alert" and rule.label(rule.threshold / 2) == "clear"
    spec_per_day = parse_spec(
        fraud_dict() | {"decision": {**fraud_dict()["decision"], "alert_rate": None, "max_alerts_per_day": 20}}
    )
    assert budget_alert_rate(spec_per_day, 10_000, 10) == pytest.approx(20 / 1000)
    with pytest.raises(ValueError, match="decision.cutoff"):
        decision_rule(spec)  # an untrained fraud spec has no threshold yet


# --- the feature store: point in time, label delay, skew --------------------------------------------------------------


@pytest.fixture
def store(project):
    """A small applied store: (spec, events in time order, data sha256)."""
    from workbench.data import resolve_data_path
    from workbench.features import apply_store, prepare_events
    from workbench.provenance import file_sha256

    spec = parse_spec(fraud_dict(rows=6_000))
    path, _ = resolve_data_path(spec)
    events = prepare_events(spec, pd.read_parquet(path))
    sha = file_sha256(path)
    apply_store(spec, events, sha)
    return spec, events, sha


def _brute_force(events: pd.DataFrame, card: np.ndarray, when: pd.Series, window: pd.Timedelta):
    """Count and sum of the card's events in the window up to its previous event (by plain iteration)."""
    counts, sums, since = [], [], []
    for c, t in zip(card, when, strict=True):
        history = events[(events["card_id"] == c) & (events["event_time"] < t)]
        if history.empty:
            counts.append(np.nan), sums.append(np.nan), since.append(np.nan)
            continue
        last = history["event_time"].iloc[-1]
        inside = history[history["event_time"] > last - window]
        counts.append(len(inside)), sums.append(inside["amount"].sum()), since.append((t - last).total_seconds())
    return np.array(counts), np.array(sums), np.array(since)


def test_training_set_is_point_in_time_correct(store):
    from workbench.features import training_set

    spec, events, sha = store
    built = training_set(spec, events, sha)
    assert len(built) == len(events)
    rows = np.random.default_rng(1).choice(len(events), 150, replace=False)
    sample = built.iloc[rows]
    count, total, since = _brute_force(
        events, sample["card_id"].to_numpy(), sample["event_time"], pd.Timedelta(hours=1)
    )
    np.testing.assert_allclose(sample["card_count_1h"], count, rtol=0, atol=0)
    np.testing.assert_allclose(sample["card_sum_1h"], total, rtol=1e-9)  # a difference of running sums
    np.testing.assert_allclose(sample["card_seconds_since_last"], since, rtol=0, atol=1e-6)  # float epoch seconds
    # a card's first transaction has no history: missing, never its own values
    first = built.groupby("card_id").head(1)
    assert first["card_count_1h"].isna().all()


def test_a_leaky_join_is_caught(store):
    from workbench.features import (
        LabelLeakError,
        historical_values,
        label_delay_violations,
        open_store,
        refuse_label_leaks,
        source_tables,
        store_dir,
    )

    spec, events, _sha = store
    honest = historical_values(open_store(spec), spec, events)
    assert label_delay_violations(spec, honest, events).empty
    # the classic mistake: chargebacks stamped at their transaction's time instead of their arrival
    leaky_tables = source_tables(spec, events, arrival=events["event_time"])
    daily = next(name for name in leaky_tables if name.endswith("_daily"))
    leaky_tables[daily].to_parquet(store_dir(spec.name) / "data" / f"{daily}.parquet", index=False)
    leaky = historical_values(open_store(spec), spec, events)
    found = label_delay_violations(spec, leaky, events)
    assert list(found["feature"]) == ["merchant_chargeback_rate_30d"]
    assert found["rows"].iloc[0] > 0 and found["largest_excess"].iloc[0] >= 1
    with pytest.raises(LabelLeakError, match="merchant_chargeback_rate_30d"):
        refuse_label_leaks(spec, leaky, events)


def test_no_skew_between_offline_and_online(store):
    from workbench.features import skew_check, store_dir

    spec, events, _sha = store
    online_before = (store_dir(spec.name) / "online.db").read_bytes()
    report = skew_check(spec, events.iloc[len(events) // 2 :], sample=15, seed=3)
    assert report.passed, report.table
    assert report.events == 15 and set(report.table["feature"]) == {f.name for f in spec.features.from_store}
    assert (report.table["max_abs_difference"] <= 1e-9).all()
    # the check worked on a scratch copy: the real online store is as it was
    assert (store_dir(spec.name) / "online.db").read_bytes() == online_before


def test_a_skewed_feature_is_caught(project):
    """A time-to-live makes Feast's offline join drop stale values while the online store serves them."""
    from workbench.data import resolve_data_path
    from workbench.features import apply_store, prepare_events, skew_check
    from workbench.provenance import file_sha256

    spec = parse_spec(fraud_dict(rows=6_000) | {"feature_store": {"ttl_hours": 1, "skew_sample": 15}})
    path, _ = resolve_data_path(spec)
    events = prepare_events(spec, pd.read_parquet(path))
    apply_store(spec, events, file_sha256(path))
    report = skew_check(spec, events.iloc[len(events) // 2 :], sample=15, seed=3)
    assert not report.passed
    skewed = report.table[report.table["max_abs_difference"] > 1e-9]
    assert "card_mean_7d" in set(skewed["feature"])
    assert np.isinf(skewed["max_abs_difference"]).any()  # offline missing, online present


def test_materialize_fills_the_online_store_up_to_a_time(store):
    from workbench.features import materialize, online_values, open_store

    spec, events, _sha = store
    until = events["event_time"].iloc[len(events) // 2].to_pydatetime()
    assert materialize(spec, until) == until
    later = events.iloc[len(events) // 2 + 1 :]
    card_seen = later[later["card_id"].isin(events["card_id"].iloc[: len(events) // 2])].head(3)
    values = online_values(open_store(spec), spec, card_seen)
    assert values["card_count_24h"].notna().all()


def test_features_commands(project):
    env_project = project
    spec_path = env_project / "card_fraud.yaml"
    spec_path.write_text(yaml.safe_dump(fraud_dict(rows=3_000)), "utf-8")

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "workbench.cli", "features", *args],
            cwd=env_project,
            capture_output=True,
            text=True,
            timeout=300,
        )

    applied = cli("apply", str(spec_path))
    assert applied.returncode == 0, applied.stderr
    assert "card_fraud_card" in applied.stdout and "card_fraud_merchant_daily" in applied.stdout
    assert (env_project / "registry_store" / "features" / "card_fraud" / "feature_store.yaml").is_file()
    bad = cli("materialize", str(spec_path), "--until", "not-a-time")
    assert bad.returncode == 2 and "--until" in bad.stderr and "Traceback" not in bad.stderr
    done = cli("materialize", str(spec_path), "--until", "2026-02-01T00:00:00")
    assert done.returncode == 0 and "2026-02-01T00:00:00+00:00" in done.stdout, done.stderr
    credit = cli("apply", str(GERMAN))
    assert credit.returncode == 2 and "has no feature store" in credit.stderr


# --- training and validation -------------------------------------------------------------------------------------


@pytest.fixture
def fraud_context(project):
    from workbench.data import load_model_data
    from workbench.training import train
    from workbench.validation import ValidationContext

    spec = parse_spec(fraud_dict(rows=30_000))
    data = load_model_data(spec)
    result = train(data, spec)
    context = ValidationContext(spec=result.spec, model=result.model, data=data, split=result.split, name="card_fraud")
    return result, context


def test_training_sets_the_threshold_from_the_budget_and_validation_judges_fraud(fraud_context):
    from workbench.validation import TESTS, run_validation

    result, ctx = fraud_context
    assert result.spec.decision.cutoff is not None  # recorded in the registered spec
    dev_rate = ctx.rule.adverse(ctx.p_dev).mean()
    assert dev_rate == pytest.approx(ctx.spec.decision.alert_rate, abs=0.002)
    assert {c.family for c in result.candidates} == {"penalised_logit", "hist_gradient_boosting"}
    fraud_ids = [t for t in TESTS if TESTS[t].kinds == ("fraud",) and t != "data.train_serve_skew"]
    credit_ids = ["backtesting.binomial", "calibration.hosmer_lemeshow", "decision.at_cutoff", "segments.calibration"]
    report = run_validation(ctx, [*fraud_ids, *credit_ids, "discrimination.auc"])
    for test_id in credit_ids:
        skipped = report.result(test_id)
        assert skipped.outcome == "skip" and "not applicable to a fraud model" in skipped.reason
    assert all(f.source not in credit_ids for f in report.findings)
    budget = report.result("decision.alert_budget")
    assert budget.outcome in ("pass", "fail", "warn")
    assert 0 <= budget.values["recall"] <= 1 and budget.values["alerts"] > 0
    assert report.result("data.label_delay").outcome == "pass"
    assert report.result("segments.fraud_patterns").tables["patterns"]["pattern"].tolist()
    headline = report.headline()
    assert {"average_precision", "recall_at_budget", "value_detection_rate"} <= set(headline)
    assert report.counts()["skip"] == len(credit_ids)
    # explanations read as fraud reasons, with the transaction's values
    from workbench.explain import ContributionExplainer

    explainer = ContributionExplainer(ctx.model, ctx.spec, ctx.x_dev)
    alerted = ctx.x_val[ctx.decisions == 1].head(20)
    texts = [r.text for row in explainer.reasons(alerted) for r in row]
    assert texts and not any("{value" in t for t in texts)


def test_fraud_tests_skip_themselves_for_credit(german_spec):
    from workbench.validation import TESTS, default_tests

    credit, fraud = default_tests("credit"), default_tests("fraud")
    assert "decision.alert_budget" not in credit and "decision.alert_budget" in fraud
    assert "backtesting.binomial" in credit and "backtesting.binomial" in fraud  # listed for fraud, skipping

    for test_id in ("decision.alert_budget", "data.train_serve_skew", "segments.alert_rate_ratio"):
        reason = TESTS[test_id].skip_reason(german_spec.kind)
        assert reason and "fraud only" in reason
    assert TESTS["backtesting.binomial"].skip_reason("credit") is None


# --- end to end ---------------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_fraud_spec_end_to_end_through_the_cli(tmp_path):
    """`workbench run` of a small card-fraud spec with a validator: trained, registered, validated, documented."""
    import json

    from workbench.governance import DEMO_USERS, UserStore

    project = tmp_path / "fraud"
    (project / "registry_store").mkdir(parents=True)
    (project / "reports").mkdir()
    users = UserStore(project / "registry_store" / "governance" / "users.json")
    for name, roles in DEMO_USERS.items():
        users.add(name, roles, "demo-password")
    spec_path = project / "card_fraud.yaml"
    spec_path.write_text(yaml.safe_dump(fraud_dict(rows=20_000)), "utf-8")
    env = {k: v for k, v in __import__("os").environ.items() if k not in {"MLFLOW_TRACKING_URI", "WORKBENCH_REPORTS"}}
    env |= {"WORKBENCH_HOME": str(project), "WORKBENCH_PASSWORD": "demo-password"}

    def workbench(*args, timeout=900):
        return subprocess.run(
            [sys.executable, "-m", "workbench.cli", *args], cwd=project, env=env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    run = workbench("run", str(spec_path), "--developer", "priya", "--validator", "marco", "--no-progress")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "registered card_fraud version 1" in run.stdout
    assert "validating card_fraud version 1 as marco" in run.stdout
    folder = project / "reports" / "card_fraud" / "v1"
    document = (folder / "card_fraud_v1_sr117_model_document.html").read_text("utf-8")
    assert (folder / "card_fraud_v1_sr117_model_document.pdf").stat().st_size > 10_000
    fairness = (folder / "card_fraud_v1_fairness_report.html").read_text("utf-8")
    expected = ("The data are synthetic", "0.129% (8,213 of 6,362,620)", "average precision", "no PD back-tests",
                "recall at the alert budget", "alert (send to review)")  # fmt: skip
    for text in expected:
        assert text in document, text
    assert "Alert-rate ratios" in fairness and "The data are synthetic" in fairness
    assert "approval rate at cut-off" not in document  # the credit page-1 figures are not shown for fraud
    evidence = next((project / "registry_store").rglob("validation/validation.json"))
    validation = json.loads(evidence.read_text("utf-8"))
    outcomes = {r["test_id"]: r["outcome"] for r in validation["results"]}
    assert outcomes["backtesting.binomial"] == "skip" and outcomes["decision.at_cutoff"] == "skip"
    assert outcomes["data.train_serve_skew"] == "pass" and outcomes["data.label_delay"] == "pass"
    assert validation["headline"]["skew_max_difference"] <= 1e-9
    skew = workbench("features", "skew", "card_fraud", "1", "--sample", "8")
    assert skew.returncode == 0 and "no skew in 8 events" in skew.stdout, skew.stdout + skew.stderr
    unknown = workbench("features", "skew", "card_fraud", "9")
    assert unknown.returncode == 2 and "no version 9" in unknown.stderr
