"""Batch scoring on pandas: the server's numbers for every row, governed, recorded once, each decision replayable,
and bad input, unapproved versions and changed artefacts refused by name."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench.cli import app

MODEL = "german_credit"


@pytest.fixture(scope="module")
def batch_project(served_template, tmp_path_factory):
    from conftest import copy_project

    return served_template._replace(project=copy_project(served_template.project, tmp_path_factory.mktemp("batch")))


@pytest.fixture
def home(batch_project):
    from conftest import registry_client

    with pytest.MonkeyPatch.context() as patch, registry_client(batch_project.project) as client:
        patch.setenv("WORKBENCH_HOME", str(batch_project.project))
        yield batch_project.project, client


@pytest.fixture(scope="module")
def portfolio(german_spec) -> pd.DataFrame:
    """Generated applications with the model's columns and others (account number, age, sex)."""
    from workbench.datasets import synthetic_german_credit

    frame = synthetic_german_credit(600, seed=11)
    frame.insert(0, "account", [f"acc-{i:05d}" for i in range(len(frame))])
    return frame


def _rows(frame: pd.DataFrame, features: list[str]) -> list[dict]:
    rows = frame[features].astype(object).to_dict("records")
    return [{k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in r.items()} for r in rows]


def test_a_batch_gives_the_servers_answers_and_one_audit_record(home, portfolio, german_spec, tmp_path):
    from conftest import in_process_server

    from workbench.batch import batch_of, score_batch
    from workbench.governance import AuditTrail
    from workbench.provenance import file_sha256

    project, client = home
    source = tmp_path / "portfolio.parquet"
    portfolio.to_parquet(source)
    result = score_batch(client, MODEL, source, tmp_path / "decided", actor="night-run")
    assert (result.rows, result.engine, result.scoring_path) == (600, "pandas", "compiled")
    out = pd.read_parquet(tmp_path / "decided").set_index("account").loc[portfolio["account"]]
    features = list(german_spec.features.all)
    with in_process_server(project) as (server, _app, _client, _decisions):
        answers, _records = server.decide(_rows(portfolio, features), "los")
    live = [a.response() for a in answers]
    assert np.abs(out["score"].to_numpy() - np.array([a["score"] for a in live])).max() <= 1e-12
    assert list(out["decision"]) == [a["decision"] for a in live]
    for mine, theirs in zip(out["reasons"], live, strict=True):
        mine = json.loads(mine)
        assert [(r["feature"], r["text"]) for r in mine] == [(r["feature"], r["text"]) for r in theirs["reasons"]]
        assert np.allclose([r["contribution"] for r in mine], [r["contribution"] for r in theirs["reasons"]], atol=1e-9)
    assert out["id"].is_unique and {batch_of(i) for i in out["id"]} == {result.batch_id}
    assert result.adverse == int((out["decision"] == "decline").sum()) > 0
    records = [r for r in AuditTrail().records() if (r["details"] or {}).get("batch_id") == result.batch_id]
    assert len(records) == 1
    details = records[0]["details"]
    assert records[0]["actor"] == "night-run" and records[0]["target"] == f"{MODEL}/{result.version}"
    assert details["rows"] == 600 and details["input_sha256"] == file_sha256(source)
    assert details["model_sha256"] == result.model_sha256 == out["model_sha256"].iloc[0]
    assert details["output"] == str((tmp_path / "decided").absolute())
    assert AuditTrail().verify() == []


def test_a_batch_decision_replays_identically(home, portfolio, tmp_path):
    from workbench.batch import batch_decisions, score_batch
    from workbench.serving import replay_decision

    _project, client = home
    source = tmp_path / "few.csv"
    portfolio.head(40).to_csv(source, index=False)
    result = score_batch(client, MODEL, source, tmp_path / "out")
    ids = pd.read_parquet(tmp_path / "out")["id"]
    for decision_id in ids.iloc[[0, 17, 39]]:
        replay = replay_decision(decision_id, client, batch_decisions(decision_id))
        assert replay.identical, replay.differences
        assert replay.recorded["model_sha256"] == result.model_sha256
    runner = CliRunner()
    shown = runner.invoke(app, ["replay", ids.iloc[5]])
    assert shown.exit_code == 0, shown.output
    assert "identical" in shown.output and "route batch" in shown.output
    missing = runner.invoke(app, ["replay", f"{result.batch_id}.0.999999"])
    assert missing.exit_code == 2 and "not in" in missing.output
    unknown = runner.invoke(app, ["replay", "batch-1234-0000000000000000.0.1"])
    assert unknown.exit_code == 2 and "no record in the audit trail" in unknown.output


def test_an_edited_batch_decision_is_found_out_on_replay(home, portfolio, tmp_path):
    from workbench.batch import batch_decisions, score_batch
    from workbench.serving import replay_decision

    _project, client = home
    source = tmp_path / "few.parquet"
    portfolio.head(10).to_parquet(source)
    score_batch(client, MODEL, source, tmp_path / "out")
    part = next((tmp_path / "out").glob("*.parquet"))
    frame = pd.read_parquet(part)
    frame.loc[3, "score"] = frame.loc[3, "score"] + 1e-6
    frame.to_parquet(part)
    replay = replay_decision(frame.loc[3, "id"], client, batch_decisions(frame.loc[3, "id"]))
    assert not replay.identical and "score" in replay.differences[0]


@pytest.mark.parametrize(
    ("breaking", "words"),
    [
        (lambda f: f.drop(columns=["credit_amount"]), "column(s) credit_amount missing"),
        (lambda f: f.assign(duration_months=f["duration_months"].astype(str)), "duration_months: must be numbers"),
        (lambda f: f.assign(checking_status=1), "checking_status: must be text"),
        (
            lambda f: f.assign(credit_amount=f["credit_amount"].where(f.index != 3, -5)),
            "credit_amount: 1 row(s) out of range",
        ),
        (lambda f: f.assign(duration_months=f["duration_months"] + 0.5), "duration_months: 20 row(s) not whole"),
        (
            lambda f: f.assign(purpose=f["purpose"].astype(str).where(f.index != 2, "yacht")),
            "purpose: 1 row(s) unknown categories",
        ),
        (lambda f: f.rename(columns={"account": "score"}), "clash with the output's own columns"),
    ],
)
def test_bad_input_is_refused_naming_the_column_and_nothing_is_written(home, portfolio, tmp_path, breaking, words):
    from workbench.batch import BatchError, score_batch
    from workbench.governance import AuditTrail

    _project, client = home
    source = tmp_path / "bad.parquet"
    breaking(portfolio.head(20).copy()).to_parquet(source)
    before = len(AuditTrail().records())
    with pytest.raises(BatchError) as refused:
        score_batch(client, MODEL, source, tmp_path / "out")
    assert words in str(refused.value)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
    assert len(AuditTrail().records()) == before


def test_unreadable_and_missing_input_and_an_existing_output_are_refused(home, tmp_path):
    from workbench.batch import BatchError, score_batch

    _project, client = home
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(BatchError, match="broken.parquet cannot be read as parquet"):
        score_batch(client, MODEL, broken, tmp_path / "out")
    with pytest.raises(BatchError, match="nowhere.csv does not exist"):
        score_batch(client, MODEL, tmp_path / "nowhere.csv", tmp_path / "out")
    (tmp_path / "taken").mkdir()
    with pytest.raises(BatchError, match="already exists"):
        score_batch(client, MODEL, broken, tmp_path / "taken")
    text = tmp_path / "numbers.txt"
    text.write_text("1,2\n")
    with pytest.raises(BatchError, match="must be Parquet"):
        score_batch(client, MODEL, text, tmp_path / "out")


def test_an_unapproved_version_is_refused(own_served_project, german_training, german_spec, portfolio, tmp_path):
    from conftest import registry_client

    from workbench.batch import BatchError, score_batch
    from workbench.registry import register_training, start_pipeline_run

    source = tmp_path / "p.parquet"
    portfolio.head(5).to_parquet(source)
    with pytest.MonkeyPatch.context() as patch, registry_client(own_served_project.project) as client:
        patch.setenv("WORKBENCH_HOME", str(own_served_project.project))
        run_id = start_pipeline_run(german_spec, developer="priya", client=client)
        version = register_training(german_training, run_id, developer="priya", client=client)
        with pytest.raises(BatchError, match="only approved versions"):
            score_batch(client, MODEL, source, tmp_path / "out", version=version)
        client.set_model_version_tag(MODEL, str(version), "status", "approved")  # a tag set in MLflow decides nothing
        with pytest.raises(BatchError, match="refusing"):
            score_batch(client, MODEL, source, tmp_path / "out", version=version)
        with pytest.raises(BatchError, match="not found|does not exist|no version|Version"):
            score_batch(client, MODEL, source, tmp_path / "out", version=99)
    assert not (tmp_path / "out").exists()


def test_a_tampered_artefact_is_refused(own_served_project, portfolio, tmp_path):
    from conftest import registry_client

    from workbench.batch import BatchError, score_batch

    source = tmp_path / "p.parquet"
    portfolio.head(5).to_parquet(source)
    artefacts = list((own_served_project.project / "registry_store").rglob("model.skops"))
    assert artefacts
    for path in artefacts:
        path.write_bytes(path.read_bytes() + b"\0")
    with pytest.MonkeyPatch.context() as patch, registry_client(own_served_project.project) as client:
        patch.setenv("WORKBENCH_HOME", str(own_served_project.project))
        with pytest.raises(BatchError, match="sha256"):
            score_batch(client, MODEL, source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_command_scores_and_names_bad_input(home, portfolio, tmp_path):
    source = tmp_path / "p.csv"
    portfolio.head(30).to_csv(source, index=False)
    runner = CliRunner()
    done = runner.invoke(app, ["batch", "score", MODEL, "--input", str(source), "--output", str(tmp_path / "o")])
    assert done.exit_code == 0, done.output
    assert "30 decisions" in done.output and "audit record" in done.output
    assert len(pd.read_parquet(tmp_path / "o")) == 30
    portfolio.head(3).drop(columns=["purpose"]).to_csv(source, index=False)
    refused = runner.invoke(app, ["batch", "score", MODEL, "--input", str(source), "--output", str(tmp_path / "p")])
    assert refused.exit_code == 2 and "purpose" in refused.output
    wrong = runner.invoke(app, ["batch", "score", MODEL, "--input", str(source), "--output", "x", "--engine", "dask"])
    assert wrong.exit_code == 2 and "--engine" in wrong.output


def test_the_vectorised_encoding_equals_the_servers_row_by_row(home, portfolio, german_spec):
    from workbench.batch import encode_frame
    from workbench.serving import load_deployment

    _project, client = home
    deployment = load_deployment(client, MODEL, int(client.get_model_version_by_alias(MODEL, "champion").version))
    features = list(german_spec.features.all)
    frame = portfolio[features].head(300).copy()
    for name in german_spec.features.numeric:
        frame[name] = frame[name].astype(float)
    frame = frame.astype(object).where(frame.notna(), None)
    encoder = deployment.scorer.encoder
    assert np.array_equal(encode_frame(encoder, frame), encoder.encode(_rows(portfolio.head(300), features)))
