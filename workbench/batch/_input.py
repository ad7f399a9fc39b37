"""A batch's input: which file, what it holds, and whether every row meets the model's input contract.

The contract is the scoring server's (``workbench.serving.InputSchema``, derived from the spec and the
development data): every feature column present, numbers where numbers are expected and text for
categories, values within the range, whole where the data was whole, known categories, no missing value
where the development data had none. A batch is all or nothing: any breach refuses the batch before a decision
is written, with the column, the problem, how many rows and the first offending value, because a portfolio
scored with a silently dropped or defaulted row is worse than one not scored.

Checks run on columns (pandas here; the Spark engine phrases the same conditions in Spark SQL) rather than
row by row through ``InputSchema.check``, which would cost more than the scoring itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from workbench.batch._errors import BatchError
from workbench.batch._scorer import OUTPUT_COLUMNS
from workbench.provenance import directory_sha256, file_sha256
from workbench.serving import InputSchema

#: rows read at once by the pandas engine
READ_ROWS = 200_000
MAX_SHOWN = 40


def input_format(path: Path) -> str:
    """``csv`` or ``parquet``, from the file's (or a folder's files') suffix."""
    if not path.exists():
        raise BatchError(f"--input: {path} does not exist")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and p.suffix)
    suffixes = {p.suffix.lower() for p in files if not p.name.startswith(("_", "."))}
    if not suffixes:
        raise BatchError(f"--input: {path} holds no data files")
    if suffixes <= {".csv"}:
        return "csv"
    if suffixes <= {".parquet", ".pq"}:
        return "parquet"
    raise BatchError(f"--input: {path} must be Parquet (.parquet) or CSV (.csv) files, found {sorted(suffixes)}")


def input_sha256(path: Path) -> str:
    """sha256 of the input file, or of every file of an input folder with its relative name."""
    return file_sha256(path) if path.is_file() else directory_sha256(path)


def _show(value: object) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Problem:
    """One breach of the contract in one column."""

    column: str
    problem: str
    rows: int
    first: object

    def __str__(self) -> str:
        return f"input column {self.column}: {self.rows} row(s) {self.problem}, e.g. {_show(self.first)}"


def check_columns(schema: InputSchema, names: list[str], types: dict[str, str]) -> None:
    """Refuse a missing feature column, a column of the wrong kind, or one that clashes with the output's."""
    missing = [n for n in schema.names if n not in names]
    if missing:
        raise BatchError(f"input: column(s) {', '.join(missing)} missing; the model needs {', '.join(schema.names)}")
    clashing = [n for n in names if n in OUTPUT_COLUMNS]
    if clashing:
        raise BatchError(
            f"input: column(s) {', '.join(clashing)} clash with the output's own columns "
            f"({', '.join(OUTPUT_COLUMNS)}); rename them"
        )
    for name in schema.numeric:
        if types[name] not in ("number", "null"):
            raise BatchError(f"input column {name}: must be numbers, found {types[name]}")
    for name in schema.categorical:
        if types[name] not in ("text", "null"):
            raise BatchError(f"input column {name}: must be text (one of the categories), found {types[name]}")


def arrow_kind(kind: pa.DataType) -> str:
    """number, text, null, or the Arrow type's name."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    if pa.types.is_null(kind):
        return "null"
    return str(kind)


def open_input(path: Path, schema: InputSchema) -> ds.Dataset:
    """The input as an Arrow dataset whose feature columns have passed the column checks."""
    fmt = input_format(path)
    try:
        if fmt == "csv":
            options = pacsv.ConvertOptions(column_types={n: pa.string() for n in schema.categorical})
            dataset = ds.dataset(str(path), format=ds.CsvFileFormat(convert_options=options))
        else:
            dataset = ds.dataset(str(path), format="parquet")
        names = dataset.schema.names
    except (pa.ArrowInvalid, OSError, ValueError) as error:
        raise BatchError(f"--input: {path} cannot be read as {fmt}: {error}") from None
    check_columns(schema, names, {n: arrow_kind(dataset.schema.field(n).type) for n in names})
    return dataset


def frames(dataset: ds.Dataset, path: Path, rows: int = READ_ROWS):
    """The input in frames of up to ``rows`` rows; a file that breaks while being read is named."""
    try:
        for batch in dataset.to_batches(batch_size=rows):
            if batch.num_rows:
                yield batch.to_pandas()
    except (pa.ArrowInvalid, OSError) as error:
        raise BatchError(f"--input: {path} cannot be read: {error}") from None


def problems(schema: InputSchema, frame: pd.DataFrame) -> list[Problem]:
    """Every column's breaches of the contract in a frame (counted, with the first offending value)."""
    found = []

    def note(name: str, bad: np.ndarray, values: np.ndarray, what: str) -> None:
        if bad.any():
            found.append(Problem(name, what, int(bad.sum()), values[np.argmax(bad)]))

    for name in schema.numeric:
        field = schema.fields[name]
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        absent = np.isnan(values)
        if not field.nullable:
            note(name, absent, values, "missing; this model needs a value")
        present = ~absent
        note(
            name,
            present & ~((values >= field.low) & (values <= field.high)),
            values,
            f"out of range [{_number(field.low)}, {_number(field.high)}]",
        )
        if field.integer:
            whole = np.equal(np.floor(values), values)
            note(name, present & np.isfinite(values) & ~whole, values, "not whole numbers")
    for name in schema.categorical:
        field = schema.fields[name]
        values = frame[name].to_numpy(dtype=object)
        absent = pd.isna(frame[name]).to_numpy()
        if not field.nullable:
            note(name, absent, values, "missing; this model needs a value")
        known = np.isin(values, np.array(field.levels, dtype=object))
        note(name, ~absent & ~known, values, f"unknown categories (known: {', '.join(field.levels[:12])})")
    return found


def canonical(schema: InputSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Feature columns as the scorer reads them (numbers as float64, categories as text), others as they are."""
    out = frame[schema.names + [c for c in frame.columns if c not in schema.fields]].copy()
    for name in schema.numeric:
        out[name] = pd.to_numeric(out[name]).astype("float64")
    for name in schema.categorical:
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out
