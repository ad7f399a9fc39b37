"""Monitoring end to end: simulated traffic through the scoring server, late outcomes, alert, review, report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _pdf import words_outside_page
from fastapi.testclient import TestClient

MODEL = "german_credit"


@pytest.fixture(scope="module")
def simulated(served_project):
    """The module's served project after 8 simulated periods sent through its server in-process (drift from
    period 4), the server closed: the template each test copies (``production``)."""
    from conftest import in_process_server

    from workbench.monitoring import OutcomeStore
    from workbench.monitoring._traffic import simulate_traffic

    project, champion, challenger, tokens = served_project
    with in_process_server(project) as (server, app, client, decisions):
        with TestClient(app) as http:
            headers = {"Authorization": f"Bearer {tokens['los']}"}

            def post(path, body):
                response = http.post(path, json=body, headers=headers)
                assert response.status_code in (200, 422), response.text
                return response.status_code, response.json()

            summary = simulate_traffic(
                MODEL,
                periods=8,
                per_period=300,
                drift_start=4,
                amount_factor=2.0,
                outcome_delay=2,
                seed=3,
                post=post,
                decisions=decisions,
                outcomes=OutcomeStore(),
            )
            version = server.champion.version
    return {"project": project, "summary": summary, "version": version, "challenger": challenger}


@pytest.fixture
def production(simulated, tmp_path, monkeypatch):
    """The test's own copy of the simulated project, with WORKBENCH_HOME and MLflow pointed at it."""
    from conftest import copy_project, registry_client

    from workbench.serving import open_decision_store

    project = copy_project(simulated["project"], tmp_path / "production")
    monkeypatch.setenv("WORKBENCH_HOME", str(project))
    mapping = project / Path(simulated["summary"]["mapping"]).relative_to(simulated["project"])
    decisions = open_decision_store()
    with registry_client(project) as client:
        yield {
            "project": project,
            "client": client,
            "summary": {**simulated["summary"], "mapping": mapping},
            "decisions": decisions,
            "version": simulated["version"],
            "challenger": simulated["challenger"],
        }
    decisions.close()


def test_outcomes_arrive_late_and_bad_rows_are_refused(production):
    from workbench.monitoring import OutcomeStore

    summary = production["summary"]
    assert summary["decisions"] + summary["refused"] == 8 * 300
    assert 0 < summary["refused"] < 100  # drifted amounts beyond the contract's range get a 422
    mapping = pd.read_csv(summary["mapping"], dtype=str)
    due = mapping["period"].astype(int) < 6
    assert summary["outcomes"] == due.sum()  # the last two periods' outcomes are not due yet
    recorded_id, pending_id = mapping["decision_id"].iloc[0], mapping["decision_id"].iloc[-1]
    result = OutcomeStore().record(
        [
            {"decision_id": pending_id, "outcome": 1, "sex": "female"},  # good: outcome now due
            {"decision_id": "18ea0000-000-000000000000", "outcome": 0},  # unknown decision
            {"decision_id": recorded_id, "outcome": 0},  # already recorded
            {"decision_id": mapping["decision_id"].iloc[-2], "outcome": "maybe"},  # wrong label
            {"decision_id": mapping["decision_id"].iloc[-3], "outcome": 0},  # good
            {"decision_id": mapping["decision_id"].iloc[-3], "outcome": 1},  # duplicate within the import
            {"outcome": 1},  # no id
        ],
        production["decisions"],
        "bad",
        ("sex", "age_group"),
    )
    assert result.recorded == 2
    reasons = {r.row: r.reason for r in result.rejected}
    assert set(reasons) == {2, 3, 4, 6, 7}
    assert "no such decision" in reasons[2] and "already recorded" in reasons[3]
    assert "not 0, 1" in reasons[4] and "duplicate" in reasons[6] and "missing" in reasons[7]
    stored = OutcomeStore().frame(MODEL).set_index("decision_id")
    assert stored.loc[pending_id, "outcome"] == 1 and stored.loc[pending_id, "sex"] == "female"


def test_monitoring_alerts_puts_the_version_under_review_and_reports(production, tmp_path):
    from pypdf import PdfReader

    from workbench.governance import GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail
    from workbench.monitoring._run import act_on_alerts, run_monitoring, write_report

    project, client = production["project"], production["client"]
    mapping = pd.read_csv(production["summary"]["mapping"], dtype=str)
    period_of = pd.Series(mapping["period"].to_numpy(), index=mapping["decision_id"])
    result = run_monitoring(
        client, MODEL, production["version"], period_of=period_of, decisions=production["decisions"]
    )
    assert result.decisions == len(mapping) and len(result.periods) == 8
    drift_alerts = [a for a in result.alerts if a.kind in ("feature_drift", "score_drift")]
    assert drift_alerts and min(a.period for a in drift_alerts) in ("004", "005")
    labelled = result.periods.set_index("period")["labelled"]
    assert labelled.loc["000"] == (mapping["period"] == "000").sum() and labelled.loc["007"] == 0  # not due yet
    paths = write_report(result, result_spec(client), folder=tmp_path)
    text = " ".join(page.extract_text() for page in PdfReader(paths[1]).pages)
    assert "Monitoring report" in text and "credit_amount" in text and "ALERT" not in text
    assert words_outside_page(paths[1]) == []  # the by-period tables fit the page
    governance = project / "registry_store" / "governance"
    service = GovernanceService(MlflowVersionStore(client), AuditTrail(governance / "audit.jsonl"))
    marco = UserStore(governance / "users.json").get("marco")
    record = act_on_alerts(result, service, marco)
    assert record["after"] == "under_review" and "monitoring alert" in record["reason"]
    assert client.get_model_version(MODEL, str(result.version)).tags["status"] == "under_review"
    assert act_on_alerts(result, service, marco) is None  # once is enough


def result_spec(client):
    from workbench.registry import recorded_spec

    return recorded_spec(client, client.get_model_version_by_alias(MODEL, "champion").run_id)


@pytest.mark.e2e
def test_the_monitoring_notebook_runs_headless(production, tmp_path):
    import nbformat

    from workbench.pipeline import execute

    output = execute(
        "06_monitoring.ipynb",
        tmp_path / "06_monitoring.ipynb",
        {"model_name": MODEL, "version": production["version"], "simulated": True},
        progress=False,
    )
    text = "\n".join(
        o.get("text", "") for cell in nbformat.read(output, 4).cells for o in cell.get("outputs", []) if "text" in o
    )
    assert "8 periods" in text and "alert(s)" in text


def test_committee_review_lists_production_alerts_and_actions(production):
    from pypdf import PdfReader

    from workbench.governance import GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail
    from workbench.monitoring._review import build_review
    from workbench.monitoring._run import act_on_alerts, run_monitoring, write_report

    client = production["client"]
    mapping = pd.read_csv(production["summary"]["mapping"], dtype=str)
    period_of = pd.Series(mapping["period"].to_numpy(), index=mapping["decision_id"])
    result = run_monitoring(
        client, MODEL, production["version"], period_of=period_of, decisions=production["decisions"]
    )
    write_report(result, result_spec(client), pdf=False)
    governance = production["project"] / "registry_store" / "governance"
    service = GovernanceService(MlflowVersionStore(client), AuditTrail(governance / "audit.jsonl"))
    assert act_on_alerts(result, service, UserStore(governance / "users.json").get("marco")) is not None
    paths = build_review(client, days=7)
    text = " ".join(page.extract_text() for page in PdfReader(paths[1]).pages)
    assert "Model risk committee" in text and MODEL in text
    assert "credit_amount" in text  # the most drifted feature of the latest period
    assert "mark_under_review" in text  # the monitoring alert's governance action is in the period's decisions
    assert words_outside_page(paths[1]) == []


@pytest.mark.e2e
def test_an_alert_retrains_a_challenger_with_lineage_that_validation_accepts(production):
    """Monitoring run -> retraining on the window's labelled decisions -> @challenger -> independent validation."""
    from workbench.governance import GovernanceError, GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail
    from workbench.monitoring import OutcomeStore
    from workbench.monitoring._record import read_monitoring_run, record_monitoring_run
    from workbench.monitoring._retrain import RetrainingError, prepare_retraining_data, retrain
    from workbench.monitoring._run import run_monitoring
    from workbench.pipeline import run_validation_suite

    project, client = production["project"], production["client"]
    mapping = pd.read_csv(production["summary"]["mapping"], dtype=str)
    period_of = pd.Series(mapping["period"].to_numpy(), index=mapping["decision_id"])
    result = run_monitoring(
        client, MODEL, production["version"], period_of=period_of, decisions=production["decisions"]
    )
    assert result.alerts
    run_id = record_monitoring_run(client, result, period_source="simulated", user="marco")
    assert read_monitoring_run(client, run_id)["alerts"][0]["message"] == result.alerts[0].message
    with pytest.raises(LookupError, match="no run"):
        read_monitoring_run(client, "0" * 32)
    with pytest.raises(LookupError, match="not a monitoring run"):
        read_monitoring_run(client, client.get_model_version(MODEL, str(production["version"])).run_id)
    with pytest.raises(RetrainingError, match="periods: must be at least 1"):
        prepare_retraining_data(client, run_id, periods=0)

    governance = project / "registry_store" / "governance"
    users = UserStore(governance / "users.json")
    service = GovernanceService(MlflowVersionStore(client), AuditTrail(governance / "audit.jsonl"))
    outcomes = OutcomeStore().frame(MODEL).set_index("decision_id")
    trained = retrain(client, run_id, developer=users.get("priya"), service=service, periods=4, echo=lambda _m: None)

    # lineage points at the monitoring run, the monitored version and the exact window of labelled decisions
    tags = client.get_model_version(MODEL, str(trained.version)).tags
    assert tags["status"] == "development" and tags["developed_by"] == "priya"
    assert tags["workbench.lineage.monitoring_run_id"] == run_id
    assert tags["workbench.lineage.parent_version"] == str(production["version"])
    labelled_periods = sorted(mapping.loc[mapping["decision_id"].isin(outcomes.index), "period"].unique())
    assert [tags["workbench.lineage.window_first_period"], tags["workbench.lineage.window_last_period"]] == [
        labelled_periods[-4],
        labelled_periods[-1],
    ]
    assert client.get_run(trained.run_id).data.tags["workbench.lineage.monitoring_run_id"] == run_id
    data = pd.read_parquet(tags["workbench.lineage.data_path"])
    in_window = mapping["period"].isin(labelled_periods[-4:]) & mapping["decision_id"].isin(outcomes.index)
    complete = outcomes.dropna(subset=["sex", "age_group"]).index  # outcomes that came with the groups
    window = mapping[in_window & mapping["decision_id"].isin(complete)]
    assert set(data["decision_id"]) == set(window["decision_id"]) and len(data) == int(
        tags["workbench.lineage.decisions"]
    )
    assert int(tags["workbench.lineage.excluded_without_groups"]) == in_window.sum() - len(window)
    truth = outcomes.loc[data["decision_id"], "outcome"].to_numpy()
    assert ((data["credit_risk"] == "bad").to_numpy().astype(int) == truth).all()
    assert (data["sex"].to_numpy() == outcomes.loc[data["decision_id"], "sex"].to_numpy()).all()

    # the deployed scorecard challenger keeps the alias: moving it is a deployer's decision, and says so
    assert not trained.challenger and "held by" in trained.note
    assert int(client.get_model_version_by_alias(MODEL, "challenger").version) != trained.version
    service.archive(users.get("sam"), MODEL, production["challenger"], "replaced by the retrained model")
    service.nominate_challenger(users.get("priya"), MODEL, trained.version, "retrained after drift")
    assert int(client.get_model_version_by_alias(MODEL, "challenger").version) == trained.version
    with pytest.raises(GovernanceError, match="developer role"):
        service.nominate_challenger(users.get("marco"), MODEL, trained.version, "not a developer")

    # the scoring server never serves it before approval
    from conftest import in_process_server

    with in_process_server(project) as (server, _app, _client, _decisions):
        assert server.challenger is None
        assert any(e["event"] == "challenger_refused" and e["version"] == trained.version for e in server.events)

    # and it enters independent validation like any other version
    validated = run_validation_suite(MODEL, trained.version, validator=users.get("marco"), progress=False, echo=print)
    assert validated.outcome in ("validated", "findings open")
    assert client.get_model_version(MODEL, str(trained.version)).tags["validated_by"] == "marco"

    # the command line names the problem instead of a traceback
    import os
    import subprocess
    import sys

    from conftest import SERVING_PASSWORD

    env = {**os.environ, "WORKBENCH_HOME": str(project), "WORKBENCH_PASSWORD": SERVING_PASSWORD}
    env.pop("MLFLOW_TRACKING_URI", None)
    refused = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "retrain", "f" * 32, "--developer", "priya"],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
    )
    assert refused.returncode == 2 and "retraining refused: monitoring run: no run" in refused.stderr
    assert "Traceback" not in refused.stderr
