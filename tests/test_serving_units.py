"""The scoring server's parts on real German credit models: compiled path, input contract, log, canary judge."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from workbench.serving import CanaryJudge, InputError, InputSchema
from workbench.serving._compiled import CompiledScorer
from workbench.spec import parse_spec
from workbench.training import model_inputs, train


@pytest.fixture(scope="module")
def german_inputs(german_data, german_spec):
    return model_inputs(german_data.frame, german_spec)


@pytest.fixture(scope="module")
def scorecard_training(german_data, german_spec):
    data = german_spec.model_dump(mode="json")
    data["candidates"] = [c for c in data["candidates"] if c["family"] == "scorecard_logit"]
    spec = parse_spec(data)
    return spec, train(german_data, spec)


def _levels(inputs, spec):
    return {c: sorted(inputs[c].dropna().unique().tolist()) for c in spec.features.categorical}


def _compiled(model, spec, inputs, split):
    return CompiledScorer(
        model,
        list(spec.features.numeric),
        list(spec.features.categorical),
        _levels(inputs, spec),
        inputs.iloc[split.development],
    )


def test_compiled_gbm_equals_predict_proba_and_shap_on_every_row(german_training, german_spec, german_inputs):
    import shap

    model = german_training.model
    scorer = _compiled(model, german_spec, german_inputs, german_training.split)
    rows = german_inputs.to_dict("records")
    scores, contributions = scorer.score(rows)
    assert np.abs(scores - model.predict_proba(german_inputs)[:, 1]).max() <= 1e-12
    # independent: shap's own TreeExplainer on the encoded matrix, one-hot columns summed per raw feature
    encoded = model.named_steps["preprocess"].transform(german_inputs)
    values = shap.TreeExplainer(model.named_steps["model"]).shap_values(encoded)
    owners = scorer.encoder.owners
    expected = np.zeros_like(contributions)
    for column, owner in enumerate(owners):
        expected[:, owner] += values[:, column]
    assert np.abs(contributions - expected).max() <= 1e-9
    # additivity: contributions sum to the log-odds minus the explainer's expected value
    log_odds = np.log(scores / (1 - scores))
    base = float(np.atleast_1d(shap.TreeExplainer(model.named_steps["model"]).expected_value)[-1])
    assert np.abs(contributions.sum(axis=1) + base - log_odds).max() <= 1e-9


def test_the_load_check_covers_the_one_row_path(german_training, german_spec, german_inputs, monkeypatch):
    """One application (the common request) takes a branch of its own; the check at load time scores it too."""
    from workbench.serving import _compiled
    from workbench.serving._deployment import _choose_scorer

    split = german_training.split
    development, validation = german_inputs.iloc[split.development], german_inputs.iloc[split.validation]
    model = german_training.model
    scorer, path, check = _choose_scorer(model, german_spec, german_inputs, development, validation)
    assert path == "compiled" and check["max_score_difference"] <= 1e-12
    for row in validation.iloc[:25].to_dict("records"):  # each one alone agrees with the artefact
        alone = scorer.score([row])[0][0]
        assert abs(alone - model.predict_proba(pd.DataFrame([row]))[0, 1]) <= 1e-12
    one_row = _compiled._TreeEnsemblePath.log_odds_and_contributions

    def off_by_a_little_for_one_row(self, encoded):
        log_odds, contributions = one_row(self, encoded)
        return (log_odds + 1e-9, contributions) if len(encoded) == 1 else (log_odds, contributions)

    monkeypatch.setattr(_compiled._TreeEnsemblePath, "log_odds_and_contributions", off_by_a_little_for_one_row)
    _, path, check = _choose_scorer(model, german_spec, german_inputs, development, validation)
    assert path == "generic" and check["max_score_difference"] > 1e-12


def test_compiled_scorecard_is_exact(scorecard_training, german_inputs):
    spec, result = scorecard_training
    model = result.model
    scorer = _compiled(model, spec, german_inputs, result.split)
    scores, contributions = scorer.score(german_inputs.to_dict("records"))
    assert scorer.method.startswith("exact")
    assert np.abs(scores - model.predict_proba(german_inputs)[:, 1]).max() <= 1e-12
    # coefficient x (encoded - development mean), by hand
    pre, lr = model.named_steps["preprocess"], model.named_steps["model"]
    encoded = pre.transform(german_inputs)
    mean = pre.transform(german_inputs.iloc[result.split.development]).mean(axis=0)
    by_column = (encoded - mean) * lr.coef_[0]
    assert np.allclose(contributions.sum(axis=1), by_column.sum(axis=1), atol=1e-12)


def test_missing_values_follow_the_pipeline_imputation(german_training, german_spec, german_inputs):
    frame = german_inputs.head(20).copy()
    frame["credit_amount"] = np.nan
    scorer = _compiled(german_training.model, german_spec, german_inputs, german_training.split)
    rows = [{k: (None if k == "credit_amount" else v) for k, v in r.items()} for r in frame.to_dict("records")]
    scores, _ = scorer.score(rows)
    assert np.abs(scores - german_training.model.predict_proba(frame)[:, 1]).max() <= 1e-12


@pytest.fixture(scope="module")
def schema(german_spec, german_inputs):
    return InputSchema.from_data(german_spec, german_inputs)


@pytest.fixture
def good(german_inputs):
    return german_inputs.iloc[0].to_dict()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda r: r.pop("duration_months"), "applications[0].duration_months", "is missing"),
        (lambda r: r.update(shoe_size=42), "applications[0].shoe_size", "is not a field"),
        (lambda r: r.update(credit_amount="1000"), "applications[0].credit_amount", "must be a number"),
        (lambda r: r.update(credit_amount=True), "applications[0].credit_amount", "must be a number"),
        (lambda r: r.update(credit_amount=-5), "applications[0].credit_amount", "out of range"),
        (lambda r: r.update(credit_amount=10**9), "applications[0].credit_amount", "out of range"),
        (lambda r: r.update(duration_months=12.5), "applications[0].duration_months", "whole number"),
        (lambda r: r.update(housing="castle"), "applications[0].housing", "unknown category"),
        (lambda r: r.update(housing=3), "applications[0].housing", "must be a string"),
        (lambda r: r.update(savings=None), "applications[0].savings", "is null"),
    ],
)
def test_every_contract_breach_names_the_field(schema, good, change, field, words):
    change(good)
    with pytest.raises(InputError) as caught:
        schema.check([good])
    problems = {p.field: p.message for p in caught.value.problems}
    assert field in problems and words in problems[field], problems


def test_unknown_category_suggests_the_closest(schema, good):
    good["housing"] = "onw"
    with pytest.raises(InputError, match="did you mean 'own'"):
        schema.check([good])


def test_ranges_come_from_the_data_widened_or_from_the_spec(german_spec, german_inputs):
    schema = InputSchema.from_data(german_spec, german_inputs)
    amount = schema.fields["credit_amount"]
    low, high = german_inputs.credit_amount.min(), german_inputs.credit_amount.max()
    assert amount.low == 0.0 and amount.high == pytest.approx(high + 0.5 * (high - low))
    data = german_spec.model_dump(mode="json")
    data["serving"] = {"input_ranges": {"credit_amount": [100, 50000]}}
    ranged = InputSchema.from_data(parse_spec(data), german_inputs).fields["credit_amount"]
    assert (ranged.low, ranged.high) == (100.0, 50000.0)


def test_spec_refuses_bad_serving_settings(german_spec):
    from workbench.spec import SpecError

    data = german_spec.model_dump(mode="json")
    for serving, key in [
        ({"input_ranges": {"housing": [0, 1]}}, "serving.input_ranges.housing"),
        ({"input_ranges": {"credit_amount": [10, 1]}}, "serving.input_ranges.credit_amount"),
        ({"rollout": {"min_requests": 500, "window": 100}}, "serving.rollout.min_requests"),
    ]:
        with pytest.raises(SpecError) as caught:
            parse_spec({**data, "serving": serving})
        assert key in str(caught.value)


def test_canonical_rows_keep_spec_order_and_types(schema, good):
    (row,) = schema.check([dict(reversed(list(good.items())))])
    assert list(row) == schema.names
    assert isinstance(row["duration_months"], int) and isinstance(row["housing"], str)


def _judge(**limits):
    from workbench.spec._schema import RolloutLimits

    reference = np.random.default_rng(0).beta(2, 5, 2000)
    return CanaryJudge(RolloutLimits(min_requests=20, window=100, **limits), reference), reference


def test_canary_judge_passes_a_healthy_canary_and_names_each_breach():
    rng = np.random.default_rng(1)
    judge, _ = _judge()
    for _ in range(100):
        s = float(rng.beta(2, 5))
        judge.observe(error=False, latency_ms=0.2, canary_score=s + rng.normal(0, 0.005), champion_score=s)
    assert judge.verdict() is None
    broken, _ = _judge()
    for i in range(30):
        broken.observe(error=i % 5 == 0, latency_ms=0.2, canary_score=0.2, champion_score=0.2)
    assert "error rate" in broken.verdict().reason
    slow, _ = _judge(max_p99_ms=20)
    for _ in range(30):
        slow.observe(error=False, latency_ms=80.0, canary_score=0.2, champion_score=0.2)
    assert "p99 latency" in slow.verdict().reason
    shifted, _ = _judge()
    for _ in range(99):
        s = float(rng.beta(2, 5))
        shifted.observe(error=False, latency_ms=0.2, canary_score=min(0.99, s + 0.3), champion_score=s)
    assert shifted.verdict() is None  # score PSI is judged on a full window only
    for _ in range(1):
        s = float(rng.beta(2, 5))
        shifted.observe(error=False, latency_ms=0.2, canary_score=min(0.99, s + 0.3), champion_score=s)
    verdict = shifted.verdict()
    assert "score PSI" in verdict.reason and verdict.measurements["score_psi"] > 0.25


def test_rollout_setting_changes_only_from_the_generation_read(tmp_path, monkeypatch):
    from workbench.governance import read_setting, write_setting

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    (tmp_path / "registry_store").mkdir()
    first = write_setting("m", "canary", share=0.1, challenger_version=2, actor="sam", reason="try")
    assert read_setting("m").mode == "canary" and first.generation == 1
    assert write_setting("m", "off", challenger_version=2, actor="x", reason="r", expected_generation=0) is None
    assert write_setting("m", "off", challenger_version=2, actor="x", reason="r", expected_generation=1)
    assert read_setting("m").mode == "off"


def test_tokens_are_stored_hashed_and_revocable(tmp_path):
    from workbench.governance import UserStore
    from workbench.serving import TokenIndex

    store = UserStore(tmp_path / "users.json")
    store.add("los", ["client"], "a-long-secret")
    token = store.issue_token("los", "origination")
    assert token not in (tmp_path / "users.json").read_text()
    index = TokenIndex(store, recheck_seconds=0)
    assert index.user(token).name == "los" and index.user(token + "x") is None
    store.revoke_tokens("los")
    assert index.user(token) is None


def test_the_fast_check_agrees_with_the_field_by_field_check(schema, german_inputs):
    """Valid records take a shortcut; it must accept and canonicalise exactly what the full check does."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    base = german_inputs.iloc[5].to_dict()
    values = st.one_of(
        st.integers(-10, 40_000),
        st.floats(-1e5, 1e5, allow_nan=False),
        st.booleans(),
        st.none(),
        st.sampled_from(["own", "rent", "yes", "no", "x", ""]),
        st.text(max_size=4),
    )

    def full_check(record):
        row, problems = {}, []
        for name, spec_field in schema.fields.items():
            value, problem = spec_field.check(record[name])
            problems += [problem] if problem else []
            row[name] = value
        return None if problems else row

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(field=st.sampled_from(schema.names), value=values)
    def agree(field, value):
        record = {**base, field: value}
        assert schema._clean(record) in (None, full_check(record))
        if full_check(record) is not None and schema._clean(record) is None:
            assert record[field] is None or isinstance(record[field], bool)  # only the slow path admits these
        if schema._clean(record) is not None:
            assert schema.check([record]) == [full_check(record)]

    agree()


def test_registry_watch_trusts_only_a_settled_sqlite_file(tmp_path, monkeypatch):
    from workbench.serving import _registry_watch
    from workbench.serving._registry_watch import RegistryWatch

    remote = RegistryWatch("http://registry.bank.internal:5000")
    remote.asked(remote.stamp())
    assert remote.stamp() is None and not remote.unchanged()  # no sign to read: every round asks
    database = tmp_path / "mlflow.db"
    database.write_bytes(b"x" * 100)
    watch = RegistryWatch(f"sqlite:///{database}")
    assert watch.stamp() is None  # written just now: two writes may share one clock tick
    old = time.time() - 5
    os.utime(database, (old, old))
    watch.asked(watch.stamp())
    assert watch.unchanged() and watch.unchanged()
    database.write_bytes(b"y" * 100)  # same size: the modification time tells
    os.utime(database, (old + 1, old + 1))
    assert not watch.unchanged()
    (tmp_path / "mlflow.db-wal").write_bytes(b"frame")  # a store in WAL mode writes the log first
    os.utime(database, (old, old))
    watch.asked(None)
    assert not watch.unchanged()  # nothing trusted
    monkeypatch.setattr(_registry_watch, "SETTLE_SECONDS", 0.0)
    watch.asked(watch.stamp())
    assert watch.unchanged()
    (tmp_path / "mlflow.db-wal").write_bytes(b"frames")
    assert not watch.unchanged()
    every_round = RegistryWatch(f"sqlite:///{database}", full_check_seconds=0.0)
    every_round.asked(every_round.stamp())
    assert not every_round.unchanged()  # the full check is due: ask whatever the files say


def test_record_times_are_iso_utc_with_microseconds_and_ids_are_unique():
    from datetime import UTC, datetime, timedelta

    from workbench.serving import new_decision_id
    from workbench.serving._server import _now

    before = datetime.now(UTC)
    stamps = [_now() for _ in range(1000)]
    after = datetime.now(UTC)
    for stamp in (stamps[0], stamps[-1]):
        parsed = datetime.fromisoformat(stamp)
        assert parsed.utcoffset() == timedelta(0) and len(stamp) == len(before.isoformat(timespec="microseconds"))
        assert before - timedelta(microseconds=1) <= parsed <= after
    assert stamps == sorted(stamps)
    ids = [new_decision_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids) and ids[0] < ids[-1]


def test_metrics_stay_visible_when_a_library_sets_the_multiprocess_directory(tmp_path, monkeypatch):
    """Feast's metrics module sets PROMETHEUS_MULTIPROC_DIR when the feature store is first used; a single-process
    server keeps its samples in memory and must still show them (found: /metrics empty after a fraud model)."""
    from workbench.serving._prometheus import count_request, render

    count_request("score", 200, 0.001)
    before = render()[0].decode()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # what feast.metrics does at import
    after = render()[0].decode()
    assert 'workbench_requests_total{endpoint="score",status="200"}' in before
    assert 'workbench_requests_total{endpoint="score",status="200"}' in after
