"""The scoring server's input contract, derived from the model's spec and the data it was developed on.

Every field of an application is checked before scoring: missing, extra, mistyped, out-of-range, not a whole
number where the data only holds whole numbers, an unknown category, or null where the data never had a
missing value. Problems name the field (``applications[3].credit_amount``) and say what is wrong, so a
loan-origination system can fix its request without reading our code.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.spec import ModelSpec


@dataclass(frozen=True)
class InputProblem:
    """One problem with one field of a request."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """JSON form, as the 422 response lists it."""
        return {"field": self.field, "problem": self.message}


class InputError(ValueError):
    """A request whose applications break the contract; carries every problem found (up to a limit)."""

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


@dataclass(frozen=True)
class NumericField:
    """A number within ``[low, high]``; whole numbers only when ``integer``."""

    name: str
    low: float
    high: float
    integer: bool
    nullable: bool

    def check(self, value: Any) -> tuple[Any, str | None]:
        """The canonical value, or a problem."""
        if value is None:
            return None, None if self.nullable else "is null; this model needs a value"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"must be a number, got {type(value).__name__} {_show(value)}"
        if not math.isfinite(value):
            return None, f"must be a finite number, got {value}"
        if self.integer and float(value) != int(value):
            return None, f"must be a whole number, got {value}"
        if not self.low <= value <= self.high:
            return None, f"{_show(value)} is out of range [{_number(self.low)}, {_number(self.high)}]"
        return (int(value) if self.integer else float(value)), None

    def json_schema(self) -> dict[str, Any]:
        """The field as JSON Schema (for the OpenAPI document)."""
        schema: dict[str, Any] = {
            "type": "integer" if self.integer else "number",
            "minimum": self.low,
            "maximum": self.high,
        }
        return {"anyOf": [schema, {"type": "null"}]} if self.nullable else schema


@dataclass(frozen=True)
class CategoricalField:
    """One of the levels seen in the development data."""

    name: str
    levels: tuple[str, ...]
    nullable: bool

    def check(self, value: Any) -> tuple[Any, str | None]:
        """The canonical value, or a problem."""
        if value is None:
            return None, None if self.nullable else "is null; this model needs a value"
        if not isinstance(value, str):
            return None, f"must be a string (one of the categories), got {type(value).__name__} {_show(value)}"
        if value not in self.levels:
            close = difflib.get_close_matches(value, self.levels, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(repr(v) for v in self.levels[:12]) + (", ..." if len(self.levels) > 12 else "")
            return None, f"unknown category {_show(value)}{hint}; known: {known}"
        return value, None

    def json_schema(self) -> dict[str, Any]:
        """The field as JSON Schema (for the OpenAPI document)."""
        schema = {"type": "string", "enum": list(self.levels)}
        return {"anyOf": [schema, {"type": "null"}]} if self.nullable else schema


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


MAX_PROBLEMS = 50


class InputSchema:
    """Checks applications field by field and returns them canonical (spec order, plain Python values)."""

    def __init__(self, fields: list[NumericField | CategoricalField]) -> None:
        self.fields = {f.name: f for f in fields}
        self.names = list(self.fields)
        self.numeric = [f.name for f in fields if isinstance(f, NumericField)]
        self.categorical = [f.name for f in fields if isinstance(f, CategoricalField)]
        # the common case (every field present and valid) checked without a method call per field
        self._numbers = [(f.name, f.low, f.high, f.integer) for f in fields if isinstance(f, NumericField)]
        self._levels = [(f.name, frozenset(f.levels)) for f in fields if isinstance(f, CategoricalField)]
        self._count = len(fields)

    def _clean(self, record: Any) -> dict[str, Any] | None:
        """The canonical row when the record is valid as it stands, else None (the slow path names why)."""
        if type(record) is not dict or len(record) != self._count:
            return None
        row = {}
        for name, low, high, integer in self._numbers:
            value = record.get(name)
            kind = type(value)
            if kind is int:
                if not low <= value <= high:
                    return None
            elif kind is float:
                if not low <= value <= high or (integer and not value.is_integer()):
                    return None
                if integer:
                    value = int(value)
            else:
                return None
            row[name] = value if integer or kind is float else float(value)
        for name, levels in self._levels:
            value = record.get(name)
            if type(value) is not str or value not in levels:
                return None
            row[name] = value
        return {name: row[name] for name in self.names}

    @classmethod
    def from_data(cls, spec: ModelSpec, inputs: pd.DataFrame) -> InputSchema:
        """Derive the contract from the model inputs it was developed and validated on.

        Numeric ranges are the spec's ``serving.input_ranges`` or the observed range widened by
        ``serving.range_margin`` of its span (never below zero for a feature that never was negative).
        """
        if spec.features.from_store:  # keys and the transaction in, the rest from the feature store
            from workbench.serving._online_features import OnlineInputSchema

            return OnlineInputSchema.for_spec(spec, inputs)
        serving = spec.serving
        fields: list[NumericField | CategoricalField] = []
        for name in spec.features.numeric:
            column = inputs[name]
            observed = column.dropna()
            low, high = float(observed.min()), float(observed.max())
            if name in serving.input_ranges:
                low, high = (float(v) for v in serving.input_ranges[name])
            else:
                margin = serving.range_margin * (high - low)
                low, high = (max(0.0, low - margin) if low >= 0 else low - margin), high + margin
            integer = bool((observed == observed.round()).all())
            fields.append(NumericField(name, low, high, integer, bool(column.isna().any())))
        for name in spec.features.categorical:
            column = inputs[name]
            levels = tuple(sorted(str(v) for v in column.dropna().unique()))
            fields.append(CategoricalField(name, levels, bool(column.isna().any())))
        return cls(fields)

    def check(self, records: Any, where: str = "applications") -> list[dict[str, Any]]:
        """Canonical records, or :class:`InputError` listing every problem (up to ``MAX_PROBLEMS``)."""
        if not isinstance(records, list):
            raise InputError([InputProblem(where, f"must be a list of applications, got {type(records).__name__}")])
        if not records:
            raise InputError([InputProblem(where, "is empty; send at least one application")])
        problems: list[InputProblem] = []
        canonical: list[dict[str, Any]] = []
        for i, record in enumerate(records):
            clean = self._clean(record)
            if clean is not None:
                canonical.append(clean)
                continue
            at = f"{where}[{i}]"
            if not isinstance(record, dict):
                problems.append(InputProblem(at, f"must be an object of fields, got {type(record).__name__}"))
                continue
            row: dict[str, Any] = {}
            for name, spec_field in self.fields.items():
                if name not in record:
                    problems.append(InputProblem(f"{at}.{name}", "is missing"))
                    continue
                value, problem = spec_field.check(record[name])
                if problem:
                    problems.append(InputProblem(f"{at}.{name}", problem))
                row[name] = value
            for name in record:
                if name not in self.fields:
                    close = difflib.get_close_matches(str(name), self.names, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    problems.append(InputProblem(f"{at}.{name}", f"is not a field of this model{hint}"))
            canonical.append(row)
            if len(problems) >= MAX_PROBLEMS:
                break
        if problems:
            raise InputError(problems[:MAX_PROBLEMS])
        return canonical

    def json_schema(self) -> dict[str, Any]:
        """One application as JSON Schema."""
        return {
            "type": "object",
            "properties": {name: f.json_schema() for name, f in self.fields.items()},
            "required": self.names,
            "additionalProperties": False,
        }
