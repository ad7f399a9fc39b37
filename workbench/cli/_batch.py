"""``workbench batch score``: a portfolio decided overnight by an approved version, on pandas or Spark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli._common import fail, user_name

app = typer.Typer(help="Batch scoring: whole datasets decided by an approved version, recorded and replayable.")


@app.command()
def score(
    name: Annotated[str, typer.Argument(help="registered model")],
    input: Annotated[Path, typer.Option("--input", help="Parquet file or folder, or CSV file, of applications")],
    output: Annotated[str, typer.Option("--output", help="new folder for the decisions (Parquet); must not exist")],
    version: Annotated[int | None, typer.Option(help="an approved version (default: the @champion)")] = None,
    engine: Annotated[str, typer.Option(help="pandas (this machine) or spark")] = "pandas",
    spark_master: Annotated[
        str | None,
        typer.Option(
            help="Spark master URL, e.g. spark://host:7077 (default: spark.master in Spark's configuration, "
            "else local[*])"
        ),
    ] = None,
    user: Annotated[str | None, typer.Option(help="who runs the batch (default WORKBENCH_USER or the OS user)")] = None,
) -> None:
    """Score, decide and explain every row with the scoring server's path; one audit record for the batch."""
    from workbench.batch import ENGINES, BatchError, score_batch
    from workbench.registry import configure
    from workbench.spark import SparkUnavailableError

    if engine not in ENGINES:
        fail(f"--engine: {engine!r} is not one of {', '.join(ENGINES)}")
    try:
        result = score_batch(
            configure(),
            name,
            input,
            output,
            version=version,
            engine=engine,
            spark_master=spark_master,
            actor=user_name(user),
        )
    except (BatchError, SparkUnavailableError) as error:
        fail(str(error))
    typer.echo(
        f"batch {result.batch_id}: {result.rows} decisions ({result.adverse} adverse) by {name}/{result.version} "
        f"(sha256 {result.model_sha256[:12]}..., {result.scoring_path} path) on {result.engine}"
    )
    typer.echo(f"input sha256 {result.input_sha256[:16]}...; decisions in {result.output}")
    typer.echo(f"audit record {result.audit_seq}; replay any decision: workbench replay <id>")
