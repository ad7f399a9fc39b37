"""Batch scoring on a real standalone Spark cluster: the pandas engine's (and so the server's) numbers for every
row, decisions replayable, the contract checked in Spark SQL, and the command pointed at the cluster."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench.cli import app

MODEL = "german_credit"


@pytest.fixture(scope="module")
def spark_project(served_template, tmp_path_factory):
    from conftest import copy_project

    return served_template._replace(project=copy_project(served_template.project, tmp_path_factory.mktemp("sb")))


@pytest.fixture
def home(spark_project):
    from conftest import registry_client

    with pytest.MonkeyPatch.context() as patch, registry_client(spark_project.project) as client:
        patch.setenv("WORKBENCH_HOME", str(spark_project.project))
        yield spark_project.project, client


@pytest.fixture(scope="module")
def portfolio() -> pd.DataFrame:
    from workbench.datasets import synthetic_german_credit

    frame = synthetic_german_credit(3000, seed=5)
    frame.insert(0, "account", [f"acc-{i:05d}" for i in range(len(frame))])
    return frame


def test_spark_on_the_cluster_equals_pandas_row_for_row(spark, home, portfolio, tmp_path):
    from workbench.batch import batch_of, score_batch
    from workbench.governance import AuditTrail

    session, url = spark
    _project, client = home
    source = tmp_path / "in"
    source.mkdir()
    for i, part in enumerate(np.array_split(portfolio, 3)):  # a folder of parts, as a data lake holds it
        part.to_parquet(source / f"part-{i}.parquet")
    on_spark = score_batch(client, MODEL, source, tmp_path / "spark", engine="spark", spark_master=url)
    on_pandas = score_batch(client, MODEL, source, tmp_path / "pandas", engine="pandas")
    assert (on_spark.rows, on_pandas.rows) == (3000, 3000) and on_spark.adverse == on_pandas.adverse
    assert on_spark.input_sha256 == on_pandas.input_sha256
    spark_out = pd.read_parquet(tmp_path / "spark").set_index("account").loc[portfolio["account"]]
    pandas_out = pd.read_parquet(tmp_path / "pandas").set_index("account").loc[portfolio["account"]]
    assert np.abs(spark_out["score"].to_numpy() - pandas_out["score"].to_numpy()).max() <= 1e-12
    assert (spark_out["decision"] == pandas_out["decision"]).all()
    assert (spark_out["top_reason"].fillna("") == pandas_out["top_reason"].fillna("")).all()
    for a, b in zip(spark_out["reasons"], pandas_out["reasons"], strict=True):
        a, b = json.loads(a), json.loads(b)
        assert [r["feature"] for r in a] == [r["feature"] for r in b]
        assert np.allclose([r["contribution"] for r in a], [r["contribution"] for r in b], atol=1e-9, rtol=0)
    assert list(spark_out.columns) == list(pandas_out.columns)
    assert (spark_out["sex"].astype(str) == portfolio.set_index("account")["sex"].astype(str)).all()
    assert spark_out["id"].is_unique and {batch_of(i) for i in spark_out["id"]} == {on_spark.batch_id}
    record = next(r for r in AuditTrail().records() if (r["details"] or {}).get("batch_id") == on_spark.batch_id)
    assert record["details"]["spark_master"] == url and record["details"]["rows"] == 3000


def test_a_spark_batch_decision_replays_identically(spark, home, portfolio, tmp_path):
    from workbench.batch import batch_decisions, score_batch
    from workbench.serving import replay_decision

    _session, url = spark
    _project, client = home
    source = tmp_path / "few.csv"
    portfolio.head(50).to_csv(source, index=False)
    score_batch(client, MODEL, source, tmp_path / "out", engine="spark", spark_master=url)
    ids = pd.read_parquet(tmp_path / "out")["id"]
    for decision_id in ids.iloc[[0, 49]]:
        replay = replay_decision(decision_id, client, batch_decisions(decision_id))
        assert replay.identical, replay.differences


@pytest.mark.parametrize(
    ("breaking", "words"),
    [
        (
            lambda f: f.assign(credit_amount=f["credit_amount"].astype(str).where(f.index != 4, "lots")),
            "input column credit_amount: 1 row(s) are not numbers, e.g. 'lots'",
        ),
        (lambda f: f.drop(columns=["purpose"]), "column(s) purpose missing"),
        (
            lambda f: f.assign(purpose=f["purpose"].astype(str).where(f.index != 2, "yacht")),
            "input column purpose: 1 row(s) unknown categories",
        ),
        (lambda f: f.assign(credit_amount=-1), "input column credit_amount: 12 row(s) out of range"),
    ],
)
def test_spark_refuses_bad_input_naming_the_column(spark, home, portfolio, tmp_path, breaking, words):
    from workbench.batch import BatchError, score_batch

    _session, url = spark
    _project, client = home
    source = tmp_path / "bad.csv"
    breaking(portfolio.head(12).copy()).to_csv(source, index=False)
    with pytest.raises(BatchError) as refused:
        score_batch(client, MODEL, source, tmp_path / "out", engine="spark", spark_master=url)
    assert words in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_the_command_runs_on_the_cluster(spark, home, portfolio, tmp_path):
    _session, url = spark
    source = tmp_path / "p.parquet"
    portfolio.head(100).to_parquet(source)
    args = ["batch", "score", MODEL, "--input", str(source), "--output", str(tmp_path / "o"), "--engine", "spark"]
    done = CliRunner().invoke(app, [*args, "--spark-master", url])
    assert done.exit_code == 0, done.output
    assert "100 decisions" in done.output and "on spark" in done.output
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    refused = CliRunner().invoke(app, [*args[:4], str(broken), "--output", str(tmp_path / "q"), "--engine", "spark"])
    assert refused.exit_code == 2 and "broken.parquet cannot be read as parquet" in refused.output
