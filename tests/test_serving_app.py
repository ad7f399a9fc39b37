"""The scoring server over HTTP (in-process ASGI): protocols, bad input, auth, records, rollout, replay."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.serving._compiled import CompiledScorer

MODEL = "german_credit"


def _serving(served_project):
    from conftest import in_process_server

    project, champion, challenger, tokens = served_project
    with in_process_server(project, recheck_seconds=0) as (server, app, client, _decisions):
        with TestClient(app) as http:
            yield {
                "server": server,
                "app": app,
                "http": http,
                "tokens": tokens,
                "project": project,
                "champion": champion,
                "challenger": challenger,
                "client": client,
            }


@pytest.fixture(scope="module")
def served(served_project):
    """The module's project's server (champion GBM, challenger scorecard), its app and an HTTP client.

    Tests may change the rollout setting (reset afterwards) and add versions, never the @champion or @challenger.
    """
    yield from _serving(served_project)


@pytest.fixture
def own_served(own_served_project):
    """Like ``served``, on a project of the test's own: for a test that moves the @champion."""
    yield from _serving(own_served_project)


def _auth(served, user="los"):
    return {"Authorization": f"Bearer {served['tokens'][user]}"}


@pytest.fixture(scope="module")
def applications(german_data, german_spec):
    from workbench.training import model_inputs

    return model_inputs(german_data.frame, german_spec).sample(200, random_state=3).to_dict("records")


def _score(served, applications, user="los"):
    return served["http"].post("/score", json={"applications": applications}, headers=_auth(served, user))


# --- native scoring and the decision record ---------------------------------------------------------------


def test_native_scoring_answers_with_ids_scores_decisions_and_reasons(served, applications, german_training):
    response = _score(served, applications[:25])
    assert response.status_code == 200
    decisions = response.json()["decisions"]
    expected = german_training.model.predict_proba(__import__("pandas").DataFrame(applications[:25]))[:, 1]
    assert np.abs(np.array([d["score"] for d in decisions]) - expected).max() <= 1e-12
    assert len({d["decision_id"] for d in decisions}) == 25
    for d in decisions:
        assert d["decision"] == ("decline" if d["score"] >= 0.35 else "approve")
        assert d["route"] == "champion" and d["version"] == served["champion"]
        assert 1 <= len(d["reasons"]) <= 4 and all(r["contribution"] > 0 for r in d["reasons"])
        assert [r["contribution"] for r in d["reasons"]] == sorted(
            (r["contribution"] for r in d["reasons"]), reverse=True
        )
        texts = served["server"].champion.spec.decision.adverse_action_texts
        assert all(r["text"] == texts.get(r["feature"], r["feature"]) for r in d["reasons"])


def test_every_answer_is_recorded_with_its_model_identity(served, applications):
    decision = _score(served, applications[:1]).json()["decisions"][0]
    record = served["server"].decisions.get(decision["decision_id"])
    assert record["model_sha256"] == served["server"].champion.model_sha256
    assert record["input"] == {
        k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in applications[0].items()
    }
    assert record["score"] == decision["score"] and record["reasons"] == decision["reasons"]
    assert record["client"] == "los" and record["latency_ms"] > 0 and record["route"] == "champion"


def test_decisions_are_readable_by_their_client_and_admins_only(served, applications):
    decision_id = _score(served, applications[:1]).json()["decisions"][0]["decision_id"]
    http = served["http"]
    assert http.get(f"/decisions/{decision_id}", headers=_auth(served)).json()["id"] == decision_id
    assert http.get(f"/decisions/{decision_id}", headers=_auth(served, "ada")).status_code == 200
    assert http.get(f"/decisions/{decision_id}", headers=_auth(served, "branch")).status_code == 404
    assert http.get("/decisions/no-such-id", headers=_auth(served)).status_code == 404


# --- authentication ---------------------------------------------------------------------------------------


def test_authentication_and_roles(served, applications):
    http, body = served["http"], {"applications": applications[:1]}
    assert http.post("/score", json=body).status_code == 401
    assert http.post("/score", json=body, headers={"Authorization": "Bearer wbt_forged"}).status_code == 401
    assert http.post("/score", json=body, headers={"Authorization": "Basic bG9zOng="}).status_code == 401
    refused = http.post("/score", json=body, headers=_auth(served, "helen"))
    assert refused.status_code == 403 and "client" in refused.json()["message"]
    assert http.get("/metrics", headers=_auth(served)).status_code == 403
    assert http.get("/metrics").status_code == 401
    metrics = http.get("/metrics", headers=_auth(served, "ada"))
    assert metrics.status_code == 200 and "workbench_decisions_total" in metrics.text
    assert http.get("/health").status_code == 200  # health needs no token


# --- bad input: 4xx naming the field, never 5xx -------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda a: a.pop("purpose"), "applications[0].purpose"),
        (lambda a: a.update(favourite_colour="red"), "applications[0].favourite_colour"),
        (lambda a: a.update(duration_months="twelve"), "applications[0].duration_months"),
        (lambda a: a.update(credit_amount=-100), "applications[0].credit_amount"),
        (lambda a: a.update(purpose="yacht"), "applications[0].purpose"),
    ],
    ids=["missing", "extra", "mistyped", "out-of-range", "unknown-category"],
)
def test_bad_fields_get_422_naming_the_field(served, applications, mutate, field):
    application = dict(applications[0])
    mutate(application)
    before = served["server"].decisions.count()
    response = _score(served, [application])
    assert response.status_code == 422
    assert field in [p["field"] for p in response.json()["problems"]]
    assert served["server"].decisions.count() == before  # nothing is recorded for a refused request


def test_a_store_that_cannot_record_answers_503_gives_no_decision_and_recovers(
    served, applications, postgres_cluster, postgres_url
):
    """The database goes away: every request is refused with the reason, none gets a decision; once it is
    back the server records again by itself."""
    from conftest import wait_until

    from workbench.serving import open_decision_store

    server, kept = served["server"], served["server"].decisions
    server.decisions = open_decision_store(postgres_url)
    try:
        assert _score(served, applications[:1]).status_code == 200
        postgres_cluster.stop()
        try:
            for _ in range(2):  # the failure, then the refusal while the store is down
                response = _score(served, applications[:1])
                assert response.status_code == 503, response.text
                assert response.json()["error"] == "decision_store_unavailable"
                assert "recorded" in response.json()["message"]
                assert "decision_id" not in response.text
        finally:
            postgres_cluster.start()
        wait_until(lambda: server.decisions.ready, timeout=30, what="the store to record again")
        assert _score(served, applications[:1]).status_code == 200
        assert server.decisions.count() == 2
    finally:
        server.decisions.close()
        server.decisions = kept


def test_malformed_oversized_and_misshapen_bodies(served, applications):
    http, headers = served["http"], {**_auth(served), "Content-Type": "application/json"}
    assert http.post("/score", content=b'{"applications": [', headers=headers).status_code == 400
    huge = b'{"applications": [' + b" " * 2_000_000 + b"]}"
    assert http.post("/score", content=huge, headers=headers).status_code == 413
    too_many = _score(served, applications[:1] * 1001)
    assert too_many.status_code == 413 and "max_batch" in too_many.json()["message"]
    for body, field in [
        ([], "body"),
        ({"apps": []}, "apps"),
        ({"applications": []}, "applications"),
        ({"applications": [1]}, "applications[0]"),
    ]:
        response = http.post("/score", json=body, headers=headers)
        assert response.status_code == 422 and response.json()["problems"][0]["field"] == field


# --- protocol compatibility -------------------------------------------------------------------------------


def _mlflow_bodies(rows):
    columns = list(rows[0])
    return {
        "dataframe_split": {"dataframe_split": {"columns": columns, "data": [[r[c] for c in columns] for r in rows]}},
        "dataframe_records": {"dataframe_records": rows},
        "instances": {"instances": rows},
        "inputs": {"inputs": {c: [r[c] for r in rows] for c in columns}},
    }


def test_invocations_answer_as_mlflow_serve_does_on_the_same_version(served, applications):
    import mlflow.pyfunc
    from mlflow.pyfunc import scoring_server

    pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL}/{served['champion']}")
    rows = applications[:20]
    with TestClient(scoring_server.init(pyfunc)) as reference:
        for name, body in _mlflow_bodies(rows).items():
            theirs = reference.post("/invocations", json=body)
            ours = served["http"].post("/invocations", json=body, headers=_auth(served))
            assert theirs.status_code == ours.status_code == 200, (name, theirs.text)
            expected, actual = theirs.json()["predictions"], ours.json()["predictions"]
            assert np.asarray(actual).shape == np.asarray(expected).shape == (20, 2), name
            assert np.abs(np.asarray(actual) - np.asarray(expected)).max() <= 1e-12, name
            assert len(ours.headers["X-Decision-Ids"].split(",")) == 20


def test_open_inference_protocol(served, applications):
    http, schema = served["http"], served["server"].champion.schema
    rows = applications[:5]
    inputs = [
        {"name": c, "shape": [5], "datatype": "FP64" if c in schema.numeric else "BYTES", "data": [r[c] for r in rows]}
        for c in schema.names
    ]
    response = http.post(f"/v2/models/{MODEL}/infer", json={"id": "req-1", "inputs": inputs}, headers=_auth(served))
    assert response.status_code == 200, response.text
    body = response.json()
    outputs = {o["name"]: o for o in body["outputs"]}
    native = _score(served, rows).json()["decisions"]
    assert body["id"] == "req-1" and body["model_name"] == MODEL
    assert outputs["score"]["data"] == [d["score"] for d in native]
    assert outputs["decision"]["data"] == [d["decision"] for d in native]
    assert http.get("/v2/health/live").json() == {"live": True}
    assert http.get("/v2/health/ready").json() == {"ready": True}
    assert http.get(f"/v2/models/{MODEL}/ready").json()["ready"] is True
    metadata = http.get(f"/v2/models/{MODEL}").json()
    assert [i["name"] for i in metadata["inputs"]] == schema.names
    assert http.get("/v2/models/other").status_code == 404
    bad = [dict(inputs[0], shape=[4])] + inputs[1:]
    problem = http.post(f"/v2/models/{MODEL}/infer", json={"inputs": bad}, headers=_auth(served))
    assert problem.status_code == 422 and problem.json()["problems"][0]["field"] == "inputs[0].shape"


# --- generated payloads: never a 5xx ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_schema(served):
    return schemathesis.openapi.from_asgi("/openapi.json", served["app"])


def test_openapi_fuzzing_never_gets_a_server_error(api_schema, served):
    """Schemathesis generates requests for every operation in the server's own OpenAPI document."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/score", "/invocations", "/v2/models/{model_name}/infer"}
    strategies = st.one_of([op.as_strategy() for op in operations])

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=strategies)
    def exercise(case):
        response = case.call(headers=_auth(served))
        assert response.status_code < 500, (case.method, case.path, case.body, response.text)

    exercise()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(["/score", "/invocations", f"/v2/models/{MODEL}/infer"]),
    field=st.sampled_from(["duration_months", "credit_amount", "purpose", "housing", "people_liable"]),
    value=json_values,
    wrap=st.booleans(),
)
def test_generated_payloads_never_get_a_server_error(served, applications, path, field, value, wrap):
    application = {**applications[0], field: value}
    if path == "/score":
        body = {"applications": [application]} if wrap else value
    elif path == "/invocations":
        body = {"dataframe_records": [application]} if wrap else {"inputs": value}
    else:
        body = {"inputs": [{"name": field, "shape": [1], "datatype": "BYTES", "data": [value]}]} if wrap else value
    response = served["http"].post(path, content=json.dumps(body), headers=_auth(served))
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        assert all(0.0 <= d["score"] <= 1.0 for d in response.json().get("decisions", []))


# --- rollout: shadow, canary, automatic rollback ------------------------------------------------------------


def _set_rollout(served, mode, share=0.0):
    from workbench.governance import GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail

    governance = served["project"] / "registry_store" / "governance"
    service = GovernanceService(MlflowVersionStore(served["client"]), AuditTrail(governance / "audit.jsonl"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_HOME", str(served["project"]))
        service.set_rollout(UserStore(governance / "users.json").get("sam"), MODEL, mode, "test rollout", share)
        served["server"].refresh_setting()


@pytest.fixture
def rollout_home(served, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(served["project"]))
    yield
    _set_rollout(served, "off")


def test_shadow_scores_and_records_the_challenger_but_never_returns_it(served, applications, rollout_home):
    _set_rollout(served, "shadow")
    decisions = _score(served, applications[:10]).json()["decisions"]
    assert {d["route"] for d in decisions} == {"champion"}
    assert {d["version"] for d in decisions} == {served["champion"]}
    for d in decisions:
        (shadow,) = served["server"].decisions.related(d["decision_id"])
        assert shadow["route"] == "shadow" and shadow["version"] == served["challenger"]


def test_a_healthy_canary_answers_its_share_and_stays(served, applications, rollout_home):
    _set_rollout(served, "canary", 0.5)
    routes = []
    for application in applications * 6:
        routes += [d["route"] for d in _score(served, [application]).json()["decisions"]]
    assert 500 < routes.count("canary") < 700  # the window is full: score PSI was judged
    assert served["server"].setting.mode == "canary", served["server"].events[-1:]


class _Broken:
    """A deliberately broken challenger scorer: raises, stalls or shifts the real challenger's scores."""

    def __init__(self, real, kind):
        self.real, self.kind, self.method = real, kind, f"broken ({kind})"

    def score(self, rows):
        if self.kind == "errors":
            raise RuntimeError("deliberately broken challenger")
        scores, contributions = self.real.score(rows)
        if self.kind == "slow":
            time.sleep(0.08)  # the slowness under test: beyond the canary's p99 latency limit
            return scores, contributions
        shifted = 1 / (1 + np.exp(-(np.log(scores / (1 - scores)) + 2.5)))
        return shifted, contributions


@pytest.mark.parametrize(
    ("kind", "words"), [("errors", "error rate"), ("slow", "p99 latency"), ("shifted", "score PSI")]
)
def test_a_broken_canary_is_rolled_back_and_the_audit_trail_says_why(served, applications, rollout_home, kind, words):
    from workbench.governance._audit import AuditTrail

    server = served["server"]
    real = server.challenger.scorer
    server.challenger.scorer = _Broken(real, kind)
    try:
        _set_rollout(served, "canary", 0.5)
        statuses = []
        for application in applications * 8:
            response = _score(served, [application])
            statuses.append(response.status_code)
            if server.setting.mode == "off":
                break
        assert set(statuses) == {200}  # the champion never stopped answering
        assert server.setting.mode == "off" and words in server.setting.reason
        record = AuditTrail(served["project"] / "registry_store" / "governance" / "audit.jsonl").records()[-1]
        assert record["action"] == "rollback_canary" and words in record["reason"]
        assert record["actor"] == "scoring-server" and record["after"] == "off"
        after = _score(served, applications[:20]).json()["decisions"]
        assert {d["route"] for d in after} == {"champion"}
    finally:
        server.challenger.scorer = real


# --- the registry decides what is served ------------------------------------------------------------------


def test_refuses_unapproved_and_tampered_versions(served, german_training, german_spec):
    from workbench.registry import register_training, start_pipeline_run
    from workbench.serving import DeploymentError, load_deployment

    client = served["client"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_HOME", str(served["project"]))
        run_id = start_pipeline_run(german_spec, developer="priya", client=client)
        version = register_training(german_training, run_id, developer="priya", client=client)
        with pytest.raises(DeploymentError, match="only approved versions are served"):
            load_deployment(client, MODEL, version)
        client.set_model_version_tag(MODEL, str(version), "status", "approved")
        client.set_model_version_tag(MODEL, str(version), "approved_model_sha256", "0" * 64)
        with pytest.raises(DeploymentError, match="differs from the approved"):
            load_deployment(client, MODEL, version)
        client.set_model_version_tag(MODEL, str(version), "status", "rejected")


def test_replay_recomputes_recorded_decisions_identically(served, applications):
    from workbench.serving._replay import replay_decision

    decisions = _score(served, applications[:8]).json()["decisions"]
    for d in decisions:
        replay = replay_decision(d["decision_id"], served["client"], served["server"].decisions)
        assert replay.identical, replay.differences
        assert math.isclose(replay.replayed["score"], d["score"], abs_tol=1e-12)


def test_compiled_path_is_checked_on_the_validation_sample(served):
    champion = served["server"].champion
    assert champion.path == "compiled" and isinstance(champion.scorer, CompiledScorer)
    check = champion.path_check
    assert check["rows"] == 300 and check["max_score_difference"] <= 1e-12
    assert served["http"].get("/health").json()["champion"]["scoring_path"] == "compiled"


def test_a_new_champion_takes_over_without_dropping_a_request(own_served, applications):
    import threading

    from conftest import wait_until

    from workbench.governance import GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail

    served = own_served
    server = served["server"]
    governance = served["project"] / "registry_store" / "governance"
    service = GovernanceService(MlflowVersionStore(served["client"]), AuditTrail(governance / "audit.jsonl"))
    statuses, versions, stop = [], set(), threading.Event()

    def traffic():
        while not stop.is_set():
            response = _score(served, applications[:2])
            statuses.append(response.status_code)
            versions.update(d["version"] for d in response.json()["decisions"])

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        sam = UserStore(governance / "users.json").get("sam")
        new = served["challenger"]
        service.promote(sam, MODEL, new, "champion", "scorecard replaces the GBM")
        server.refresh()
        assert server.champion.version == new
        wait_until(lambda: len(versions) >= 2, timeout=30, what="answers from the old and the new champion")
    finally:
        stop.set()
        worker.join()
    assert set(statuses) == {200} and versions == {served["champion"], served["challenger"]}
    assert any(e["event"] == "champion_changed" for e in server.events)


def test_the_follower_asks_mlflow_only_when_the_registry_file_changed(served, monkeypatch):
    """Each round stats the SQLite registry; a round with nothing written since the last answer skips MLflow."""
    from conftest import wait_until

    from workbench.serving import _registry_watch

    monkeypatch.setattr(_registry_watch, "SETTLE_SECONDS", 0.05)
    server, client = served["server"], served["client"]
    monkeypatch.setattr(server, "watch", _registry_watch.RegistryWatch(client.tracking_uri))  # nothing trusted yet
    asked = []
    holder = server.versions.alias_holder
    monkeypatch.setattr(server.versions, "alias_holder", lambda *a: asked.append(a) or holder(*a))

    def settled():
        """The registry file has been quiet longer than the settle time: its stamp can be trusted."""
        wait_until(lambda: server.watch.stamp() is not None, timeout=10, what="the registry file to settle")

    settled()
    server.follow_round()
    assert len(asked) == 2  # nothing trusted yet: @champion and @challenger were asked for
    skipped = server.watch.skipped
    for _ in range(3):
        server.follow_round()
    assert len(asked) == 2 and server.watch.skipped == skipped + 3
    client.set_registered_model_alias(MODEL, "probe", str(served["champion"]))  # any write to the registry
    try:
        server.follow_round()
        assert len(asked) == 4  # the file changed: MLflow is asked again
    finally:
        client.delete_registered_model_alias(MODEL, "probe")
    settled()
    server.follow_round()  # the deletion was a write too
    assert len(asked) == 6
    server.follow_round()
    assert len(asked) == 6
