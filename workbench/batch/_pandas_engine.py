"""The pandas engine: the input read in Arrow batches on one machine, decisions written as Parquet parts.

Decisions go to a hidden folder beside the output, which is renamed to the output only when every row has
been checked and scored: a refused or interrupted batch leaves no output that could pass for a finished one.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.batch._errors import BatchError
from workbench.batch._input import canonical, frames, open_input, problems
from workbench.batch._scorer import BatchScorer
from workbench.serving import InputSchema


def score_with_pandas(
    scorer: BatchScorer, schema: InputSchema, source: Path, output: Path, batch_id: str, when: datetime
) -> tuple[int, int]:
    """Check and score every row of ``source`` into the Parquet folder ``output``; (rows, adverse decisions)."""
    dataset = open_input(source, schema)
    staging = output.parent / f".{output.name}.{batch_id}.partial"
    staging.mkdir(parents=True)
    rows = adverse = 0
    try:
        for number, frame in enumerate(frames(dataset, source)):
            found = problems(schema, frame)
            if found:
                raise BatchError("; ".join(str(p) for p in found) + f" (in rows {rows} to {rows + len(frame) - 1})")
            decided = scorer.decide(canonical(schema, frame), batch_id, 0, rows, when)
            rows += len(decided)
            adverse += int(scorer.rule.adverse(decided["score"].to_numpy()).sum())
            table = pa.Table.from_pandas(decided, preserve_index=False)
            pq.write_table(table, staging / f"part-{number:05d}.parquet")
        if rows == 0:
            raise BatchError(f"--input: {source} holds no rows")
        os.rename(staging, output)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return rows, adverse
