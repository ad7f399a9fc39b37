"""Serving a fraud model on the feature store: the request carries keys and the transaction, the server reads
Feast's online store, scores through the compiled path, records the full feature vector, and replay needs no
store; a new card follows ``feature_store.when_missing``; the German model is served beside it."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from conftest import copy_project, governed_version, registry_client
from fastapi.testclient import TestClient
from test_fraud import fraud_dict

FRAUD, GERMAN = "card_fraud", "german_credit"
#: after the last generated transaction (the data end on 2026-03-31)
AFTER = "2026-04-01T09:30:00Z"


@pytest.fixture(scope="module")
def fraud_template(served_template, tmp_path_factory):
    """Never used directly, only copied: the served German project plus an approved card-fraud @champion whose
    Feast store is applied and materialised to the last transaction."""
    from workbench.data import load_model_data
    from workbench.features import materialize
    from workbench.spec import parse_spec
    from workbench.training import train

    project = copy_project(served_template.project, tmp_path_factory.mktemp("fraud-template"))
    with pytest.MonkeyPatch.context() as patch, registry_client(project) as client:
        patch.setenv("WORKBENCH_HOME", str(project))
        spec = parse_spec(fraud_dict(rows=12_000))
        result = train(load_model_data(spec), spec)
        governed_version(project, client, result.spec, result, promote="champion")
        materialize(result.spec)
    return project, served_template.tokens["los"], result


@pytest.fixture
def fraud_project(fraud_template, tmp_path):
    project, token, result = fraud_template
    return copy_project(project, tmp_path / "fraud"), token, result


@contextmanager
def _server(project):
    from workbench.governance import AuditTrail, UserStore
    from workbench.serving import Fleet, TokenIndex, create_app, open_decision_store

    with pytest.MonkeyPatch.context() as patch, registry_client(project) as client:
        patch.setenv("WORKBENCH_HOME", str(project))
        governance = project / "registry_store" / "governance"
        store = open_decision_store()
        fleet = Fleet(client, store, AuditTrail(governance / "audit.jsonl"), refresh_seconds=0)
        try:
            fleet.start()
            tokens = TokenIndex(UserStore(governance / "users.json"), recheck_seconds=0)
            with TestClient(create_app(fleet, tokens, start=False)) as http:
                yield fleet, http, client
        finally:
            fleet.stop()
            store.close()


def _events(project, spec) -> pd.DataFrame:
    from workbench.data import resolve_data_path
    from workbench.features import prepare_events

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_HOME", str(project))
        path, _ = resolve_data_path(spec)
        return prepare_events(spec, pd.read_parquet(path))


def _transaction(event, **changes) -> dict:
    """A request: the entity keys, the transaction's time and its own fields."""
    body = {
        "card_id": int(event["card_id"]),
        "merchant_id": int(event["merchant_id"]),
        "event_time": AFTER,
        "amount": 480.0,
        "new_device": 1,
        "channel": "online",
        "category": str(event["category"]),
    }
    return body | changes


def _score(http, token, *transactions, model=FRAUD):
    return http.post(
        f"/models/{model}/score",
        json={"applications": list(transactions)},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_a_served_fraud_decision_is_replayed_identically_without_the_store(fraud_project):
    """Online features from Feast equal the offline point-in-time values; the record holds the whole vector;
    replay gives the same answer once the online store is deleted, while the server then refuses (503)."""
    from workbench.features import finish_features, historical_values, open_store, store_dir
    from workbench.serving import replay_decision

    project, token, result = fraud_project
    spec = result.spec
    events = _events(project, spec)
    busiest = events["card_id"].value_counts().index[0]
    last = events[events["card_id"] == busiest].iloc[-1]
    with _server(project) as (fleet, http, client):
        server = fleet.servers[FRAUD]
        assert server.champion.path == "compiled", server.champion.path_check
        answer = _score(http, token, _transaction(last))
        assert answer.status_code == 200, answer.text
        decision = answer.json()["decisions"][0]
        assert decision["decision"] in ("alert", "clear")
        record = fleet.decisions.get(decision["decision_id"])
        vector = record["input"]
        assert list(vector)[: len(spec.features.all)] == spec.features.all
        assert vector["online_missing"] == "" and vector["event_time"] == "2026-04-01T09:30:00.000000+00:00"
        # the online values are the offline point-in-time values at the transaction's time
        event = pd.DataFrame([_transaction(last)]).assign(event_time=pd.Timestamp(AFTER))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_HOME", str(project))
            offline = finish_features(spec, historical_values(open_store(spec), spec, event), event)
        for feature in spec.features.from_store:
            assert vector[feature.name] == pytest.approx(offline[feature.name].iloc[0], rel=1e-12), feature.name
        assert vector["card_count_24h"] >= 1 and vector["amount"] == 480.0
        # the recorded score is the artefact's own on the recorded vector
        frame = pd.DataFrame([vector])[spec.features.all]
        assert decision["score"] == pytest.approx(result.model.predict_proba(frame)[0, 1], abs=1e-12)
        # reasons read as fraud reasons, with the transaction's values
        texts = [r["text"] for r in decision["reasons"]]
        assert texts and not any("{value" in t for t in texts)
        # the online store goes: replay needs none of it, the server refuses rather than guess
        (store_dir(spec.name) / "online.db").unlink()
        gone = _score(http, token, _transaction(last))
        assert gone.status_code == 503 and gone.json()["error"] == "online_features_unavailable"
        assert "workbench features materialize card_fraud" in gone.json()["message"]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_HOME", str(project))
            replay = replay_decision(decision["decision_id"], client, fleet.decisions)
    assert replay.identical, replay.differences
    assert replay.replayed["score"] == pytest.approx(decision["score"], abs=1e-12)
    assert [r["text"] for r in replay.replayed["reasons"]] == texts


def test_replay_ignores_a_changed_online_store(fraud_project):
    """The online store rebuilt to an earlier time answers differently; replay of the decision made before does
    not change, and the server reads the rebuilt file, never the replaced one."""
    from workbench.data import resolve_data_path
    from workbench.features import apply_store, materialize
    from workbench.provenance import file_sha256
    from workbench.serving import replay_decision

    project, token, result = fraud_project
    spec = result.spec
    events = _events(project, spec)
    card = events.iloc[-1]
    with _server(project) as (fleet, http, client):
        before = _score(http, token, _transaction(card)).json()["decisions"][0]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_HOME", str(project))
            path, _ = resolve_data_path(spec)
            apply_store(spec, events, file_sha256(path), force=True)  # a fresh, empty online store
            materialize(spec, pd.Timestamp("2026-03-31T12:00:00", tz="UTC").to_pydatetime())
        after = _score(http, token, _transaction(card)).json()["decisions"][0]
        first, second = (fleet.decisions.get(d["decision_id"])["input"] for d in (before, after))
        assert first != second, "the rebuilt store should answer differently"
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_HOME", str(project))
            for decision in (before, after):
                replay = replay_decision(decision["decision_id"], client, fleet.decisions)
                assert replay.identical, replay.differences
                assert replay.replayed["score"] == pytest.approx(decision["score"], abs=1e-12)


def test_a_new_card_is_imputed_and_recorded_as_missing(fraud_project):
    from workbench.serving import replay_decision

    project, token, result = fraud_project
    events = _events(project, result.spec)
    with _server(project) as (fleet, http, client):
        answer = _score(http, token, _transaction(events.iloc[-1], card_id=987_654_321))
        assert answer.status_code == 200, answer.text
        decision = answer.json()["decisions"][0]
        vector = fleet.decisions.get(decision["decision_id"])["input"]
        assert vector["online_missing"] == "card"
        card_features = [f.name for f in result.spec.features.from_store if f.entity == "card"]
        assert all(vector[name] is None for name in card_features)
        assert vector["merchant_chargeback_rate_30d"] is not None
        # the model's own imputation, as for a card's first transaction in training
        frame = pd.DataFrame([vector])[result.spec.features.all].astype({n: "float64" for n in card_features})
        assert decision["score"] == pytest.approx(result.model.predict_proba(frame)[0, 1], abs=1e-12)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_HOME", str(project))
            assert replay_decision(decision["decision_id"], client, fleet.decisions).identical


def test_bad_fraud_requests_name_the_field(fraud_project):
    project, token, result = fraud_project
    event = _events(project, result.spec).iloc[-1]
    with _server(project) as (fleet, http, _client):
        cases = [
            ({"event_time": "yesterday"}, "applications[0].event_time", "not an ISO 8601 time"),
            ({"event_time": "2026-04-01T09:30:00"}, "applications[0].event_time", "no time zone"),
            ({"card_id": "12"}, "applications[0].card_id", "must be a number"),
            ({"card_id": -3}, "applications[0].card_id", "out of range"),
            ({"channel": "telepathy"}, "applications[0].channel", "unknown category"),
            ({"card_count_1h": 3}, "applications[0].card_count_1h", "is not a field of this model"),
        ]
        for change, field, problem in cases:
            answer = _score(http, token, _transaction(event, **change))
            assert answer.status_code == 422, (change, answer.text)
            problems = answer.json()["problems"]
            assert any(p["field"] == field and problem in p["problem"] for p in problems), (change, problems)
        body = _transaction(event)
        del body["event_time"]
        missing = _score(http, token, body)
        assert missing.status_code == 422
        assert missing.json()["problems"] == [{"field": "applications[0].event_time", "problem": "is missing"}]


def test_refuse_rule_answers_422_naming_the_key(fraud_project):
    """``feature_store.when_missing: refuse``: a transaction of an unknown card is refused, naming the key."""
    from workbench.serving._inputs import InputError
    from workbench.serving._online_features import OnlineInputSchema

    project, token, result = fraud_project
    spec = result.spec.model_copy(
        update={"feature_store": result.spec.feature_store.model_copy(update={"when_missing": "refuse"})}
    )
    events = _events(project, spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_HOME", str(project))
        schema = OnlineInputSchema.for_spec(spec, result.validation_inputs)
        known = _transaction(events.iloc[-1])
        assert schema.check([known])[0]["online_missing"] == ""
        with pytest.raises(InputError) as refused:
            schema.check([known, _transaction(events.iloc[-1], merchant_id=555_555)])
    (problem,) = refused.value.problems
    assert problem.field == "applications[1].merchant_id"
    assert "merchant 555555 has no features in the online store" in problem.message
    assert "feature_store.when_missing: refuse" in problem.message


def test_when_missing_is_checked_in_the_spec():
    from workbench.spec import SpecError, parse_spec

    data = fraud_dict()
    data["feature_store"]["when_missing"] = "drop"
    with pytest.raises(SpecError, match=r"feature_store\.when_missing: Input should be 'impute' or 'refuse'"):
        parse_spec(data)


def test_a_server_refuses_a_fraud_model_whose_store_was_never_materialised(fraud_project):
    project, token, _result = fraud_project
    (project / "registry_store" / "features" / FRAUD / "online.db").unlink()
    with _server(project) as (fleet, http, _client):
        assert FRAUD in fleet.refused and "never materialised" in fleet.refused[FRAUD]
        refused = _score(http, token, {"card_id": 1})
        assert refused.status_code == 503 and "workbench features materialize card_fraud" in refused.text
        assert GERMAN in fleet.servers  # the other model is served all the same


def test_a_store_built_from_other_definitions_is_not_served(fraud_project):
    """Loading the version rebuilds a store of other definitions from its spec (an empty online store), and
    the model is then refused until the online store is materialised again."""
    import json

    from workbench.features import definitions_sha256

    project, _token, result = fraud_project
    state = project / "registry_store" / "features" / FRAUD / "workbench_state.json"
    state.write_text(json.dumps(json.loads(state.read_text()) | {"definitions_sha256": "0" * 64}))
    with _server(project) as (fleet, _http, _client):
        assert "never materialised" in fleet.refused[FRAUD]
        assert "workbench features materialize card_fraud" in fleet.refused[FRAUD]
    rebuilt = json.loads(state.read_text())
    assert rebuilt["definitions_sha256"] == definitions_sha256(result.spec) and rebuilt["materialized_until"] is None


def test_german_and_fraud_side_by_side(fraud_project, applications_for_load):
    project, token, result = fraud_project
    event = _events(project, result.spec).iloc[-1]
    with _server(project) as (fleet, http, _client):
        assert sorted(fleet.servers) == [FRAUD, GERMAN]
        fraud = _score(http, token, _transaction(event), _transaction(event, amount=3.5, new_device=0))
        german = _score(http, token, *applications_for_load[:3], model=GERMAN)
        assert fraud.status_code == 200 and german.status_code == 200, (fraud.text, german.text)
        assert {d["decision"] for d in fraud.json()["decisions"]} <= {"alert", "clear"}
        assert {d["decision"] for d in german.json()["decisions"]} <= {"approve", "decline"}
        assert {d["model"] for d in fraud.json()["decisions"]} == {FRAUD}
        health = http.get("/health").json()
        assert health["status"] == "ok" and set(health["models"]) >= {FRAUD, GERMAN}
        # each model keeps its own contract: a German application is no transaction
        crossed = _score(http, token, applications_for_load[0])
        assert crossed.status_code == 422 and any(
            p["field"] == "applications[0].card_id" for p in crossed.json()["problems"]
        )
        assert np.isfinite([d["score"] for d in fraud.json()["decisions"]]).all()
        metadata = http.get(f"/v2/models/{FRAUD}").json()
        inputs = {i["name"]: i["datatype"] for i in metadata["inputs"]}
        assert inputs["card_id"] == "FP64" and inputs["event_time"] == "BYTES" and "card_count_1h" not in inputs


def test_the_one_row_step_equals_the_batch_step_bit_for_bit(fraud_project):
    """The server finishes features with ``finish_row``; training and the skew check with ``finish_features``."""
    from workbench.features import finish_features, finish_row, historical_values, open_store

    project, _token, result = fraud_project
    spec = result.spec
    events = _events(project, spec)
    sample = events.iloc[np.random.default_rng(5).choice(len(events), 400, replace=False)].sort_index()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_HOME", str(project))
        stored = historical_values(open_store(spec), spec, sample)
    batch = finish_features(spec, stored, sample)
    micros = (sample["event_time"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "us")
    rows = [
        finish_row(spec, stored.iloc[i].astype(float).to_dict(), int(micros.iloc[i]), sample.iloc[i].to_dict())
        for i in range(len(sample))
    ]
    one = pd.DataFrame(rows, index=batch.index)[batch.columns]
    assert batch.notna().any().all() and batch.isna().any().any()  # values and missing ones both met
    assert np.array_equal(one.to_numpy(), batch.to_numpy(), equal_nan=True)
