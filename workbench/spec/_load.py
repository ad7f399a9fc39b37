"""Reading a spec file, turning pydantic errors into key-named messages, and hashing the spec."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError

from workbench.spec._errors import SpecError, format_location
from workbench.spec._labels import group_labels, label_keys
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


#: given the spec's ``dataset`` mapping, the data's column names and how to name the data (None when unknown)
ColumnsOf = Callable[[Any], tuple[list[str], str] | None]

_FEATURE_KEY = re.compile(r"features\.(numeric|categorical)\[(\d+)\]")


def load_spec(path: str | Path, columns_of: ColumnsOf | None = None) -> ModelSpec:
    """Read and validate a spec file; fails before any work starts.

    With ``columns_of`` (the data layer's reader of the data's header), a problem filed at a feature whose name
    is not a column of the data is reported as exactly that, the root cause, with the nearest column name.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(str(path), [("(file)", "no such spec file")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SpecError(str(path), [("(yaml)", f"not valid YAML: {error}")]) from None
    try:
        return parse_spec(data, str(path))
    except SpecError as error:
        if columns_of is None:
            raise
        raise _naming_missing_columns(error, data, columns_of) from None


def _naming_missing_columns(error: SpecError, data: dict[str, Any], columns_of: ColumnsOf) -> SpecError:
    """The same problems, those at a feature that is not a column of the data restated as that."""
    features = data.get("features")
    if not isinstance(features, dict) or not any(_FEATURE_KEY.fullmatch(key) for key, _ in error.problems):
        return error
    found = columns_of(data.get("dataset"))
    if found is None:
        return error
    columns, source = found
    problems = []
    for key, message in error.problems:
        match = _FEATURE_KEY.fullmatch(key)
        names = features.get(match[1]) if match else None
        name = names[int(match[2])] if isinstance(names, list) and int(match[2]) < len(names) else None
        if isinstance(name, str) and name not in columns:
            message = _not_a_column(name, columns, source)
        problems.append((key, message))
    return SpecError(error.source, problems)


def without_features(spec: ModelSpec, names: list[str]) -> ModelSpec:
    """The spec with some features removed (with their adverse-action texts and input ranges)."""
    data = spec_to_dict(spec)
    gone = set(names)
    data["features"] = {
        kind: [f for f in data["features"][kind] if f not in gone] for kind in ("numeric", "categorical")
    } | {"from_store": [f for f in data["features"]["from_store"] if f["name"] not in gone]}
    data["decision"]["adverse_action_texts"] = {
        k: v for k, v in data["decision"]["adverse_action_texts"].items() if k not in gone
    }
    data["serving"]["input_ranges"] = {k: v for k, v in data["serving"]["input_ranges"].items() if k not in gone}
    return parse_spec(data, f"{spec.name} without {', '.join(names)}")


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


def _shown(labels: list[str], limit: int = 8) -> str:
    return ", ".join(repr(v) for v in labels[:limit]) + (", ..." if len(labels) > limit else "")


def _not_values(labels: list[str], column: str, values: list[str]) -> str:
    verb = "is not a value" if len(labels) == 1 else "are not values"
    return f"{_shown(labels)} {verb} of {column!r} (values: {_shown(values)})"


def _target_problems(spec: ModelSpec, column: pd.Series) -> list[tuple[str, str]]:
    """The adverse (and favourable) values exist, and together they leave no value unaccounted for."""
    target = spec.target
    values = sorted(set(label_keys(column).dropna()))
    problems = []
    missing = sorted(target.adverse_labels - set(values))
    if missing:
        problems.append(("target.adverse_value", _not_values(missing, target.column, values)))
    if target.favourable_labels is not None:
        absent = sorted(target.favourable_labels - set(values))
        if absent:
            problems.append(("target.favourable_value", _not_values(absent, target.column, values)))
        unlisted = sorted(set(values) - target.adverse_labels - target.favourable_labels)
        if unlisted:
            problems.append(
                (
                    "target.favourable_value",
                    f"{target.column!r} also holds {_shown(unlisted)}, in neither adverse_value nor favourable_value; "
                    "add each to one of them (or leave favourable_value out: then every other value is favourable)",
                )
            )
    if len(values) < 2:
        problems.append(("target.column", f"{target.column!r} has only {len(values)} distinct value(s)"))
    elif not missing and not set(values) - target.adverse_labels:
        problems.append(("target.adverse_value", f"every value of {target.column!r} is adverse; nothing is favourable"))
    return problems


def check_spec_against_data(spec: ModelSpec, frame: pd.DataFrame, source: str) -> None:
    """Check that every column the spec names exists and the target's adverse values are in the data.

    The columns named are the features, the target, protected attributes (or their band sources) and the
    fairness screening attributes.

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
        problems += _target_problems(spec, frame[spec.target.column])
    for i, attribute in enumerate(spec.protected_attributes):
        if attribute.band is not None and attribute.band.source not in frame.columns:
            problems.append(
                (f"protected_attributes[{i}].band.source", _not_a_column(attribute.band.source, columns, source))
            )
        elif attribute.data_column not in frame.columns:
            problems.append(
                (f"protected_attributes[{i}].column", _not_a_column(attribute.data_column, columns, source))
            )
        else:
            groups = sorted(set(group_labels(frame[attribute.data_column])))
            if attribute.reference not in groups:
                shown = ", ".join(repr(g) for g in groups[:12]) + (", ..." if len(groups) > 12 else "")
                problems.append(
                    (
                        f"protected_attributes[{i}].reference",
                        f"{attribute.reference!r} is not a group of {attribute.data_column!r} (groups: {shown})",
                    )
                )
    for i, column in enumerate(spec.fairness.screening_attributes):
        if column not in frame.columns:
            problems.append((f"fairness.screening_attributes[{i}]", _not_a_column(column, columns, source)))
            continue
        distinct = group_labels(frame[column]).nunique()
        if distinct > spec.thresholds.max_categories:
            problems.append(
                (
                    f"fairness.screening_attributes[{i}]",
                    f"{column!r} has {distinct} distinct values, more than thresholds.max_categories "
                    f"({spec.thresholds.max_categories}); a screening attribute holds groups (band a numeric column "
                    "into a few groups first)",
                )
            )
    if spec.split.method == "out_of_time" and spec.split.date_column not in frame.columns:
        problems.append(("split.date_column", _not_a_column(str(spec.split.date_column), columns, source)))
    if problems:
        raise SpecError(source, problems, heading=f"the spec does not fit the data in {source}")
