"""The Spark engine: the same checks in Spark SQL, the same scorer in ``mapInPandas`` on every executor.

The checked deployment is broadcast once; each executor decides its partition's Arrow batches through
:meth:`BatchScorer.decide`, so the numbers are the server's (the one compiled path and decision rule), and a
decision id names its partition and row. The contract is checked first by one aggregation over the input
(counts and a first offending value per column, nothing else reaches the driver); a breach refuses the batch
before anything is written.

MLflow's ``mlflow.pyfunc.spark_udf`` scores a registered model on Spark too, but it returns scores only:
no approval or artefact check, no decision rule, no reason codes, no record. It is the yardstick in
``benchmarks/batch_scoring.py``, not the path decisions take.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from workbench.batch._errors import BatchError
from workbench.batch._input import MAX_SHOWN, check_columns, input_format
from workbench.batch._scorer import BatchScorer
from workbench.serving import InputSchema

#: prefix of the CSV's text kept beside a number column, to name values that are not numbers (never written)
RAW = "__workbench_text_"


def _kind(data_type) -> str:
    from pyspark.sql import types as T

    if isinstance(data_type, T.NumericType):
        return "number"
    if isinstance(data_type, T.StringType):
        return "text"
    if isinstance(data_type, T.NullType):
        return "null"
    return data_type.simpleString()


def _read(session, source: Path, schema: InputSchema):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    fmt = input_format(source)
    try:
        if fmt == "csv":  # text first: a value that is not a number is named below, not silently nulled
            frame = session.read.csv(str(source), header=True, inferSchema=False)
            frame.schema  # noqa: B018 (reads the header now, so an unreadable file fails here)
        else:
            frame = session.read.parquet(str(source))
    except (PySparkException, Exception) as error:  # Spark wraps Java's exceptions in several classes
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BatchError(f"--input: {source} cannot be read as {fmt}: {first}") from None
    names = [c for c in frame.columns if not c.startswith(RAW)]
    types = {f.name: _kind(f.dataType) for f in frame.schema.fields}
    problems = []
    if fmt == "csv":
        for name in schema.numeric:
            if name in types:
                raw = f"{RAW}{name}"
                frame = frame.withColumn(raw, F.col(name)).withColumn(name, F.expr(f"try_cast(`{raw}` as double)"))
                problems.append((name, "are not numbers", F.col(raw).isNotNull() & F.col(name).isNull(), F.col(raw)))
                types[name] = "number"
    check_columns(schema, names, types)
    return frame, problems


def _contract(frame, schema: InputSchema, problems: list) -> list:
    """(column, problem, condition, value shown) for every clause of the contract, as Spark columns."""
    from pyspark.sql import functions as F

    for name in schema.numeric:
        field, value = schema.fields[name], F.col(name).cast("double")
        absent = value.isNull() | F.isnan(value)
        if not field.nullable:
            problems.append((name, "missing; this model needs a value", absent, value))
        problems.append(
            (
                name,
                f"out of range [{field.low:g}, {field.high:g}]",
                ~absent & ~value.between(field.low, field.high),
                value,
            )
        )
        if field.integer:
            problems.append((name, "not whole numbers", ~absent & (F.floor(value) != value), value))
    for name in schema.categorical:
        field, value = schema.fields[name], F.col(name)
        if not field.nullable:
            problems.append((name, "missing; this model needs a value", value.isNull(), value))
        known = value.isin(list(field.levels))
        problems.append(
            (name, f"unknown categories (known: {', '.join(field.levels[:12])})", value.isNotNull() & ~known, value)
        )
    return problems


def _check(frame, schema: InputSchema, problems: list) -> int:
    """Rows in the input; refuses the batch naming each breached column (one aggregation, counts only)."""
    from pyspark.sql import functions as F

    clauses = _contract(frame, schema, problems)
    aggregates = [F.count(F.lit(1)).alias("rows")]
    for i, (_name, _what, bad, value) in enumerate(clauses):
        bad = F.coalesce(bad, F.lit(False))
        aggregates.append(F.sum(bad.cast("long")).alias(f"n{i}"))
        aggregates.append(F.first(F.when(bad, value.cast("string")), ignorenulls=True).alias(f"v{i}"))
    result = frame.agg(*aggregates).collect()[0]
    found = []
    for i, (name, what, _bad, _value) in enumerate(clauses):
        if result[f"n{i}"]:
            shown = repr(result[f"v{i}"])
            shown = shown if len(shown) <= MAX_SHOWN else shown[: MAX_SHOWN - 3] + "..."
            found.append(f"input column {name}: {result[f'n{i}']} row(s) {what}, e.g. {shown}")
    if found:
        raise BatchError("; ".join(found))
    return int(result["rows"])


def output_schema(scorer: BatchScorer, input_schema, schema: InputSchema):
    """The Spark schema of the decisions: the output's own columns, the features, then the other input columns."""
    from pyspark.sql import types as T

    fields = [
        T.StructField("id", T.StringType()),
        T.StructField("time", T.TimestampType()),
        T.StructField("model", T.StringType()),
        T.StructField("version", T.LongType()),
        T.StructField("model_sha256", T.StringType()),
        T.StructField("route", T.StringType()),
        T.StructField("score", T.DoubleType()),
        T.StructField("decision", T.StringType()),
        T.StructField("top_reason", T.StringType()),
        T.StructField("reasons", T.StringType()),
    ]
    fields += [T.StructField(n, T.DoubleType()) for n in schema.numeric]
    fields += [T.StructField(n, T.StringType()) for n in schema.categorical]
    fields += [f for f in input_schema.fields if f.name not in schema.fields]
    return T.StructType(fields)


def score_with_spark(
    session,
    scorer: BatchScorer,
    schema: InputSchema,
    source: Path,
    output: str,
    batch_id: str,
    when: datetime,
) -> tuple[int, int]:
    """Check and score every row of ``source`` into the Parquet folder ``output``; (rows, adverse decisions)."""
    from pyspark.sql import functions as F

    from workbench.batch._input import canonical

    frame, problems = _read(session, source, schema)
    rows = _check(frame, schema, problems)
    if rows == 0:
        raise BatchError(f"--input: {source} holds no rows")
    others = [c for c in frame.columns if c not in schema.fields and not c.startswith(RAW)]
    ordered = frame.select(*schema.names, *others)
    shared = session.sparkContext.broadcast((scorer, schema))

    def decide(batches):
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        batch_scorer, contract = shared.value
        first = 0
        for batch in batches:
            if len(batch):
                yield batch_scorer.decide(canonical(contract, batch), batch_id, part, first, when)
                first += len(batch)

    decided = ordered.mapInPandas(decide, output_schema(scorer, ordered.schema, schema))
    decided.write.parquet(output)
    written = session.read.parquet(output)
    adverse = written.where(F.col("decision") == scorer.rule.adverse_label).count()
    shared.unpersist()
    return rows, int(adverse)
