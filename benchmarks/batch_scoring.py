"""Batch scoring of N rows on one machine: the workbench on Spark local[2] and on pandas, against MLflow's
``mlflow.pyfunc.spark_udf`` on the same registered version.

    python benchmarks/batch_scoring.py [--rows 10000000] [--rounds 3]

A temporary project registers the shipped German credit model (gradient boosting, as `make demo` trains it)
and takes it through validation, approval and promotion to @champion by the governance rules. ``--rows``
generated applications (``synthetic_german_credit``, 500,000 drawn once and repeated with new account
numbers) are written as Parquet parts. Each round runs, in turn (interleaved, so a slow spell of the machine
hits every engine alike):

* ``workbench-spark``: ``score_batch(engine="spark")`` on ``local[2]``: contract check, score, decision, reason
  codes and decision id per row, Parquet out, one audit record;
* ``workbench-pandas``: the same on pandas in this process (one core);
* ``spark_udf``: ``mlflow.pyfunc.spark_udf`` on ``models:/german_credit@champion``, scores only
  (``predict_proba`` of the pyfunc flavour), Parquet out, on the same session.

Reported per engine: median rows/s with the range over rounds, and the wall seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BASE_ROWS = 500_000
PASSWORD = "benchmark-password"


def approved_champion(project: Path):
    """An approved @champion in a new project; returns (MLflow client, version)."""
    from workbench.data import load_model_data
    from workbench.governance import DEMO_USERS, AuditTrail, GovernanceService, MlflowVersionStore, UserStore
    from workbench.registry import configure, register_training, start_pipeline_run
    from workbench.spec import load_spec
    from workbench.training import train

    os.environ["WORKBENCH_HOME"] = str(project)
    (project / "registry_store").mkdir(parents=True)
    client = configure(f"sqlite:///{project / 'registry_store' / 'mlflow.db'}")
    users = UserStore()
    for name, roles in DEMO_USERS.items():
        users.add(name, roles, PASSWORD)
    spec = load_spec(ROOT / "notebooks" / "params" / "german_credit.yaml")
    result = train(load_model_data(spec), spec)
    service = GovernanceService(MlflowVersionStore(client), AuditTrail())
    run_id = start_pipeline_run(spec, developer="priya", client=client)
    version = register_training(result, run_id, developer="priya", client=client)
    service.register(users.get("priya"), spec.name, version)
    service.record_validation(users.get("marco"), spec.name, version, "validated", "benchmark", {"high": 0})
    service.approve(users.get("helen"), spec.name, version, "benchmark")
    service.promote(users.get("sam"), spec.name, version, "champion", "benchmark")
    return client, version, spec


def write_input(folder: Path, rows: int) -> None:
    from workbench.datasets import synthetic_german_credit

    folder.mkdir(parents=True)
    base = synthetic_german_credit(min(rows, BASE_ROWS), seed=1)
    written, part = 0, 0
    while written < rows:
        chunk = base.iloc[: rows - written].copy()
        chunk.insert(0, "account", np.arange(written, written + len(chunk)))
        chunk.to_parquet(folder / f"part-{part:04d}.parquet", index=False)
        written += len(chunk)
        part += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    try:
        client, version, spec = approved_champion(work / "project")
        source = work / "input"
        write_input(source, args.rows)
        import mlflow
        from pyspark.sql import functions as F

        from workbench.batch import score_batch
        from workbench.spark import spark_session

        session = spark_session(args.master, app_name="batch-benchmark")
        session.conf.set("spark.sql.files.maxPartitionBytes", str(16 << 20))
        mlflow.set_tracking_uri(client.tracking_uri)
        mlflow.set_registry_uri(client._registry_uri)
        udf = mlflow.pyfunc.spark_udf(session, f"models:/{spec.name}@champion", result_type="array<double>")
        features = list(spec.features.all)

        def workbench_spark(out: Path) -> None:
            score_batch(client, spec.name, source, out, engine="spark", spark_master=args.master)

        def workbench_pandas(out: Path) -> None:
            score_batch(client, spec.name, source, out, engine="pandas")

        def spark_udf(out: Path) -> None:
            frame = session.read.parquet(str(source))
            numeric = set(spec.features.numeric)  # the model's signature: numbers as doubles
            columns = [F.col(c).cast("double").alias(c) if c in numeric else F.col(c) for c in features]
            scored = frame.withColumn("score", udf(F.struct(*columns))[1])
            scored.select("account", "score").write.parquet(str(out))

        engines = {"workbench-spark": workbench_spark, "spark_udf": spark_udf, "workbench-pandas": workbench_pandas}
        seconds: dict[str, list[float]] = {name: [] for name in engines}
        for round_number in range(args.rounds):
            for name, run in engines.items():
                out = work / f"out-{name}-{round_number}"
                started = time.perf_counter()
                run(out)
                seconds[name].append(time.perf_counter() - started)
                print(f"round {round_number + 1} {name}: {seconds[name][-1]:.1f} s", flush=True)
                shutil.rmtree(out, ignore_errors=True)
        print(f"\n{args.rows:,} rows, {args.rounds} interleaved rounds, Spark master {args.master}")
        print(f"{'engine':<18}{'median rows/s':>15}{'range rows/s':>26}{'median s':>10}")
        for name, times in seconds.items():
            rates = [args.rows / t for t in times]
            print(
                f"{name:<18}{statistics.median(rates):>15,.0f}{f'{min(rates):,.0f} - {max(rates):,.0f}':>26}"
                f"{statistics.median(times):>10.1f}"
            )
        session.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
