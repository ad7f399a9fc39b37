"""``workbench batch score``: a governed batch of decisions, on pandas or Spark, with the server's numbers.

Governed like live decisions: the version (default the @champion) is loaded through the scoring server's own
``load_deployment``, which refuses a version without an approval in the audit trail and an artefact whose
sha256 is not the approved one, and which verifies the compiled path against ``predict_proba``. Each row gets
the server's score, decision and reason codes and a decision id; the batch gets one audit record.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlflow import MlflowClient

from workbench.batch._errors import BatchError
from workbench.batch._ids import new_batch_id
from workbench.batch._input import input_format, input_sha256
from workbench.batch._pandas_engine import score_with_pandas
from workbench.batch._record import record_batch
from workbench.batch._scorer import BatchScorer
from workbench.governance import MlflowVersionStore
from workbench.registry import VersionNotFoundError
from workbench.serving import DeploymentError, load_deployment

ENGINES = ("pandas", "spark")


@dataclass(frozen=True)
class BatchResult:
    """What a batch did: its id, the version and bytes that decided, the rows, and where they are."""

    batch_id: str
    model: str
    version: int
    model_sha256: str
    scoring_path: str
    engine: str
    rows: int
    adverse: int
    input: str
    input_sha256: str
    output: str
    audit_seq: int


def _version(client: MlflowClient, name: str, version: int | None) -> int:
    if version is not None:
        return int(version)
    champion = MlflowVersionStore(client).alias_holder(name, "champion")
    if champion is None:
        raise BatchError(f"{name} has no @champion; name an approved version with --version")
    return champion


def score_batch(
    client: MlflowClient,
    name: str,
    source: Path,
    output: str | Path,
    *,
    version: int | None = None,
    engine: str = "pandas",
    spark_master: str | None = None,
    actor: str | None = None,
) -> BatchResult:
    """Score every row of ``source`` with an approved version into the Parquet folder ``output``."""
    if engine not in ENGINES:
        raise BatchError(f"--engine: {engine!r} is not one of {', '.join(ENGINES)}")
    source = Path(source)
    target = Path(output).absolute()
    if target.exists():
        raise BatchError(f"--output: {target} already exists; a batch never overwrites earlier decisions")
    input_format(source)  # an input that is missing or of no known format is refused before the model loads
    number = _version(client, name, version)
    try:
        deployment = load_deployment(client, name, number)
    except (DeploymentError, VersionNotFoundError) as error:
        raise BatchError(f"refusing to score: {error}") from None
    scorer = BatchScorer(deployment)
    digest = input_sha256(source)
    batch_id, when = new_batch_id(), datetime.now(UTC)
    if engine == "spark":
        from workbench.batch._spark_engine import score_with_spark
        from workbench.spark import spark_session

        session = spark_session(spark_master)
        rows, adverse = score_with_spark(session, scorer, deployment.schema, source, str(target), batch_id, when)
        master = session.sparkContext.master
    else:
        rows, adverse = score_with_pandas(scorer, deployment.schema, source, target, batch_id, when)
        master = None
    details = {
        "batch_id": batch_id,
        "engine": engine,
        "spark_master": master,
        "model_sha256": deployment.model_sha256,
        "scoring_path": deployment.path,
        "input": str(source.absolute()),
        "input_sha256": digest,
        "rows": rows,
        "adverse": adverse,
        "output": str(target),
        "features": list(deployment.spec.features.all),
        "started": when.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
    }
    who = actor or os.environ.get("WORKBENCH_USER") or getpass.getuser()
    record = record_batch(who, name, number, f"batch of {rows} decisions from {source.name}", details)
    return BatchResult(
        batch_id=batch_id,
        model=name,
        version=number,
        model_sha256=deployment.model_sha256,
        scoring_path=deployment.path,
        engine=engine,
        rows=rows,
        adverse=adverse,
        input=str(source.absolute()),
        input_sha256=digest,
        output=str(target),
        audit_seq=int(record["seq"]),
    )
