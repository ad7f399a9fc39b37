"""One server, many models: per-model routes, a model that cannot load answers 503 while the others serve,
a model promoted later is picked up without a restart, and readiness follows the decision store."""

from __future__ import annotations

import dataclasses
import json
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

MODEL, SECOND, BROKEN = "german_credit", "german_credit_branch", "german_credit_unapproved"


def _renamed(result, name: str):
    """The German training result under another model name (a second registered model of the same kind)."""
    return dataclasses.replace(result, spec=result.spec.model_copy(update={"name": name}))


def _register(project, client, result, name: str, *, approved: bool = True) -> int:
    from conftest import governed_version

    from workbench.registry import register_training, start_pipeline_run

    renamed = _renamed(result, name)
    if approved:
        return governed_version(project, client, renamed.spec, renamed, promote="champion")
    run_id = start_pipeline_run(renamed.spec, developer="priya", client=client)
    version = register_training(renamed, run_id, developer="priya", client=client)
    client.set_registered_model_alias(name, "champion", str(version))  # set by hand, never approved
    return version


@contextmanager
def _fleet_server(project, *, names=None, store_url=None):
    from conftest import registry_client

    from workbench.governance import AuditTrail, UserStore
    from workbench.serving import Fleet, TokenIndex, create_app, open_decision_store

    with pytest.MonkeyPatch.context() as patch, registry_client(project) as client:
        patch.setenv("WORKBENCH_HOME", str(project))
        governance = project / "registry_store" / "governance"
        store = open_decision_store(store_url)
        fleet = Fleet(client, store, AuditTrail(governance / "audit.jsonl"), names=names, refresh_seconds=0)
        try:
            fleet.start()
            tokens = TokenIndex(UserStore(governance / "users.json"), recheck_seconds=0)
            with TestClient(create_app(fleet, tokens, start=False)) as http:
                yield fleet, http, client
        finally:
            fleet.stop()
            store.close()


@pytest.fixture(scope="module")
def applications(applications_for_load):
    return applications_for_load[:5]


def _post(http, path, body, token):
    return http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_two_models_one_server_each_on_its_own_routes(own_served_project, german_training, applications):
    project, token = own_served_project.project, own_served_project.tokens["los"]
    from conftest import registry_client

    with registry_client(project) as client, pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_HOME", str(project))
        _register(project, client, german_training, SECOND)
        _register(project, client, german_training, BROKEN, approved=False)
    with _fleet_server(project) as (fleet, http, _client):
        assert sorted(fleet.servers) == [MODEL, SECOND] and list(fleet.refused) == [BROKEN]
        for name in (MODEL, SECOND):
            answer = _post(http, f"/models/{name}/score", {"applications": applications}, token)
            assert answer.status_code == 200, answer.text
            decisions = answer.json()["decisions"]
            assert {d["model"] for d in decisions} == {name}
            assert fleet.decisions.get(decisions[0]["decision_id"])["model"] == name
            mlflow = _post(http, f"/models/{name}/invocations", {"dataframe_records": applications}, token)
            assert mlflow.status_code == 200 and len(mlflow.json()["predictions"]) == len(applications)
            tensors = [{"name": k, "shape": [1], "datatype": "BYTES", "data": [v]} for k, v in applications[0].items()]
            v2 = _post(http, f"/v2/models/{name}/infer", {"inputs": tensors}, token)
            assert v2.status_code == 200 and v2.json()["model_name"] == name, v2.text
        same = [
            _post(http, f"/models/{n}/score", {"applications": applications[:1]}, token).json()["decisions"][0]["score"]
            for n in (MODEL, SECOND)
        ]
        assert same[0] == same[1]  # the same artefact under two names scores alike
        several = _post(http, "/score", {"applications": applications}, token)
        assert several.status_code == 404 and several.json()["error"] == "choose_a_model"
        broken = _post(http, f"/models/{BROKEN}/score", {"applications": applications}, token)
        assert broken.status_code == 503 and "only approved versions are served" in broken.json()["message"]
        assert http.get(f"/v2/models/{BROKEN}/ready").status_code == 503
        unknown = _post(http, "/models/nobody/score", {"applications": applications}, token)
        assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_model"
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        models = health.json()["models"]
        assert models[BROKEN]["status"] == "unavailable" and "approved" in models[BROKEN]["reason"]
        assert models[SECOND]["champion"]["name"] == SECOND
        assert http.get("/v2/health/ready").json() == {"ready": True}  # the loaded models are served


def test_chosen_models_only_and_a_model_promoted_later_is_picked_up(own_served_project, german_training, applications):
    project, token = own_served_project.project, own_served_project.tokens["los"]
    with _fleet_server(project, names=[MODEL, SECOND]) as (fleet, http, client):
        assert list(fleet.servers) == [MODEL] and SECOND in fleet.refused  # not registered yet
        assert _post(http, f"/models/{SECOND}/score", {"applications": applications}, token).status_code == 503
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_HOME", str(project))
            _register(project, client, german_training, SECOND)
        fleet._retry.clear()  # the retry is due now rather than after its pause
        fleet.follow_round()
        answer = _post(http, f"/models/{SECOND}/score", {"applications": applications}, token)
        assert answer.status_code == 200, answer.text
        assert http.get("/health").json()["status"] == "ok"


def test_one_model_keeps_score_and_invocations(served_project, applications):
    project, token = served_project.project, served_project.tokens["los"]
    with _fleet_server(project) as (fleet, http, _client):
        assert fleet.single == MODEL
        for path in ("/score", f"/models/{MODEL}/score"):
            assert _post(http, path, {"applications": applications}, token).status_code == 200
        invocations = _post(http, "/invocations", {"dataframe_records": applications}, token)
        assert invocations.status_code == 200 and len(invocations.headers["X-Decision-Ids"].split(",")) == 5


def test_readiness_follows_the_decision_store(served_project, applications, postgres_cluster, postgres_url):
    """The database stops: /health and /v2/health/ready say not ready (503) while scoring is refused; once it
    is back the worker is ready again by itself."""
    from conftest import wait_until

    project, token = served_project.project, served_project.tokens["los"]
    with _fleet_server(project, store_url=postgres_url) as (fleet, http, _client):
        assert http.get("/v2/health/ready").status_code == 200
        postgres_cluster.stop()
        try:
            refused = _post(http, "/score", {"applications": applications}, token)
            assert refused.status_code == 503 and refused.json()["error"] == "decision_store_unavailable"
            ready = http.get("/v2/health/ready")
            assert ready.status_code == 503 and ready.json() == {"ready": False}
            health = http.get("/health")
            assert health.status_code == 503 and health.json()["status"] == "not ready"
            assert health.json()["decision_store"]["failure"]
            assert "***" not in json.dumps(health.json()) or "password" not in postgres_url
        finally:
            postgres_cluster.start()
        wait_until(
            lambda: http.get("/v2/health/ready").status_code == 200, timeout=30, what="ready again", interval=0.2
        )
        assert http.get("/health").json()["status"] == "ok"
        assert _post(http, "/score", {"applications": applications}, token).status_code == 200
