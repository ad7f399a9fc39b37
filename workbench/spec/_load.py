"""Reading a spec file, turning pydantic errors into key-named messages, and hashing the spec."""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError

from workbench.spec._errors import SpecError, format_location
from workbench.spec._schema import KeyedProblems, ModelSpec

_PYDANTIC_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def _problems_from(error: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for item in error.errors():
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, KeyedProblems):
            problems.extend(cause.problems)
            continue
        key = format_location(item["loc"])
        message = _PYDANTIC_MESSAGES.get(item["type"], item["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append((key, message))
    return problems


def parse_spec(data: Any, source: str = "<dict>") -> ModelSpec:
    """Validate a spec given as a mapping; raise :class:`SpecError` naming every bad key."""
    if not isinstance(data, dict):
        raise SpecError(source, [("(spec)", "a spec is a YAML mapping of keys to values")])
    try:
        return ModelSpec.model_validate(data)
    except ValidationError as error:
        raise SpecError(source, _problems_from(error)) from None


def load_spec(path: str | Path) -> ModelSpec:
    """Read and validate a spec file; fails before any work starts."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(str(path), [("(file)", "no such spec file")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SpecError(str(path), [("(yaml)", f"not valid YAML: {error}")]) from None
    return parse_spec(data, str(path))


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    """The spec as plain JSON-able data (what is logged and hashed)."""
    return spec.model_dump(mode="json")


def spec_sha256(spec: ModelSpec) -> str:
    """Hash of the spec's meaning, not its formatting: comments and key order do not change it."""
    canonical = json.dumps(spec_to_dict(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _not_a_column(name: str, columns: list[str], source: str) -> str:
    message = f"{name!r} is not a column of {source}"
    close = difflib.get_close_matches(name, columns, n=1)
    return f"{message} (did you mean {close[0]!r}?)" if close else message


def check_spec_against_data(spec: ModelSpec, frame: pd.DataFrame, source: str) -> None:
    """Check that every column the spec names exists and the target is binary with the adverse value.

    Runs on the loaded frame (after derived protected groups are added) and before any training, so a typo
    in a column name costs a second, not a run.
    """
    columns = [str(c) for c in frame.columns]
    problems: list[tuple[str, str]] = []
    for name in spec.features.all:
        if name not in frame.columns:
            problems.append((spec.features.location_of(name), _not_a_column(name, columns, source)))
    if spec.target.column not in frame.columns:
        problems.append(("target.column", _not_a_column(spec.target.column, columns, source)))
    else:
        values = frame[spec.target.column].dropna().unique().tolist()
        if len(values) != 2:
            shown = ", ".join(repr(v) for v in values[:6])
            problems.append(
                (
                    "target.column",
                    f"the target must be binary; {spec.target.column!r} has {len(values)} "
                    f"distinct values ({shown}{', ...' if len(values) > 6 else ''})",
                )
            )
        elif spec.target.adverse_value not in values and str(spec.target.adverse_value) not in map(str, values):
            problems.append(
                (
                    "target.adverse_value",
                    f"{spec.target.adverse_value!r} is not a value of "
                    f"{spec.target.column!r} (values: {values[0]!r}, {values[1]!r})",
                )
            )
    for i, attribute in enumerate(spec.protected_attributes):
        if attribute.band is not None and attribute.band.source not in frame.columns:
            problems.append(
                (f"protected_attributes[{i}].band.source", _not_a_column(attribute.band.source, columns, source))
            )
        elif attribute.data_column not in frame.columns:
            problems.append(
                (f"protected_attributes[{i}].column", _not_a_column(attribute.data_column, columns, source))
            )
        elif attribute.reference not in set(frame[attribute.data_column].astype(str)):
            problems.append(
                (
                    f"protected_attributes[{i}].reference",
                    f"{attribute.reference!r} is not a group of {attribute.data_column!r}",
                )
            )
    if spec.split.method == "out_of_time" and spec.split.date_column not in frame.columns:
        problems.append(("split.date_column", _not_a_column(str(spec.split.date_column), columns, source)))
    if problems:
        raise SpecError(source, problems, heading=f"the spec does not fit the data in {source}")
