"""Data validation: schema, missing values, duplicates, ranges, cardinality, class balance, group rates.

Each check returns a :class:`DataCheck`; a blocking failure stops the pipeline before training with a message
that names the column and the problem. New checks are added to ``DATA_CHECKS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.data._aliasing import aliased_features
from workbench.data._load import ModelData, adverse_target, model_inputs
from workbench.spec import ModelSpec, group_labels, label_keys
from workbench.stats import leakage_screen, leakage_suspects

Severity = Literal["blocking", "warning", "info"]


@dataclass
class DataCheck:
    """One data-validation outcome: passed or not, how serious a failure is, why, and its evidence table."""

    id: str
    title: str
    severity: Severity
    passed: bool
    message: str
    table: pd.DataFrame | None = None

    @property
    def outcome(self) -> str:
        """'pass', or the severity of the failure ('fail' when blocking, 'warn' otherwise)."""
        if self.passed:
            return "pass"
        return "fail" if self.severity == "blocking" else "warn"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, table as records."""
        table = None if self.table is None else _records(self.table)
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "outcome": self.outcome,
            "message": self.message,
            "table": table,
        }


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    clean = table.reset_index() if table.index.name is not None else table
    return [
        {k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]


class DataValidationError(RuntimeError):
    """Blocking data-validation failures: the run stops here."""


@dataclass
class DataValidationResult:
    """All data checks for one data set, with its identity."""

    data_sha256: str
    source: str
    n_rows: int
    checks: list[DataCheck] = field(default_factory=list)

    @property
    def blocking_failures(self) -> list[DataCheck]:
        """Checks that stop the run."""
        return [c for c in self.checks if c.outcome == "fail"]

    @property
    def warnings(self) -> list[DataCheck]:
        """Checks that passed with reservations, to be read by the validator."""
        return [c for c in self.checks if c.outcome == "warn"]

    def summary(self) -> pd.DataFrame:
        """One row per check: id, title, outcome, message."""
        return pd.DataFrame(
            [{"check": c.id, "title": c.title, "outcome": c.outcome, "message": c.message} for c in self.checks]
        )

    def check(self, check_id: str) -> DataCheck:
        """The check with this id."""
        return next(c for c in self.checks if c.id == check_id)

    @property
    def adverse_rate(self) -> float | None:
        """Share of adverse outcomes among the rows with a usable target (from the class-balance mapping)."""
        table = self.check("class_balance").table
        if table is None:
            return None
        used = table[table["modelled_as"] != "not used"]
        total = used["count"].sum()
        return float(used.loc[used["modelled_as"] == "adverse (1)", "count"].sum() / total) if total else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as logged to MLflow."""
        return {
            "data_sha256": self.data_sha256,
            "source": self.source,
            "n_rows": self.n_rows,
            "blocking_failures": [c.id for c in self.blocking_failures],
            "checks": [c.to_dict() for c in self.checks],
        }

    def raise_for_blocking(self) -> None:
        """Stop with one line per blocking failure."""
        failures = self.blocking_failures
        if failures:
            lines = "\n".join(f"  {c.id}: {c.message}" for c in failures)
            raise DataValidationError(f"data validation of {self.source} failed ({len(failures)} blocking):\n{lines}")


CheckFunction = Callable[[pd.DataFrame, ModelSpec], DataCheck]


def check_schema(frame: pd.DataFrame, spec: ModelSpec) -> DataCheck:
    """Numeric features must hold numbers; text in a numeric column is refused, not coerced silently."""
    rows = []
    for name in spec.features.numeric:
        column = frame[name]
        ok = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        example = ""
        if not ok:
            parsed = pd.to_numeric(column, errors="coerce")
            bad = column[parsed.isna() & column.notna()]
            example = f"{bad.iloc[0]!r} in {len(bad)} row(s)" if len(bad) else "stored as text"
        rows.append({"column": name, "declared": "numeric", "dtype": str(column.dtype), "ok": ok, "example": example})
    for name in spec.features.categorical:
        rows.append(
            {"column": name, "declared": "categorical", "dtype": str(frame[name].dtype), "ok": True, "example": ""}
        )
    table = pd.DataFrame(rows)
    bad = table[~table["ok"]]
    if len(bad):
        parts = [
            f"numeric feature {r.column!r} holds non-numeric values ({r.example}); fix the source or declare it "
            "categorical"
            for r in bad.itertuples()
        ]
        return DataCheck("schema", "Schema and types", "blocking", False, "; ".join(parts), table)
    return DataCheck(
        "schema",
        "Schema and types",
        "blocking",
        True,
        f"{len(spec.features.numeric)} numeric and {len(spec.features.categorical)} categorical features "
        "have the declared types",
        table,
    )


def check_missing(frame: pd.DataFrame, spec: ModelSpec) -> DataCheck:
    """Missing values per used column; a feature above ``thresholds.max_missing_rate`` or any missing target blocks."""
    used = [*spec.features.all, spec.target.column]
    table = pd.DataFrame({"column": used, "missing": [int(frame[c].isna().sum()) for c in used]})
    table["rate"] = table["missing"] / max(len(frame), 1)
    limit = spec.thresholds.max_missing_rate
    problems = [
        f"feature {r.column!r} is {r.rate:.1%} missing (limit {limit:.0%})"
        for r in table.itertuples()
        if r.column != spec.target.column and r.rate > limit
    ]
    target_missing = int(frame[spec.target.column].isna().sum())
    if target_missing:
        problems.append(f"target {spec.target.column!r} is missing in {target_missing} row(s)")
    if problems:
        return DataCheck("missing_values", "Missing values", "blocking", False, "; ".join(problems), table)
    some = table[table["missing"] > 0]
    if len(some):
        listed = ", ".join(f"{r.column} {r.rate:.1%}" for r in some.itertuples())
        return DataCheck(
            "missing_values",
            "Missing values",
            "warning",
            False,
            f"missing values are imputed in the model pipeline: {listed}",
            table,
        )
    return DataCheck("missing_values", "Missing values", "blocking", True, "no missing values", table)


def check_duplicates(frame: pd.DataFrame, spec: ModelSpec) -> DataCheck:
    """Exact duplicate rows inflate apparent performance when they straddle the split."""
    duplicated = frame.duplicated(keep="first")
    count = int(duplicated.sum())
    table = frame[frame.duplicated(keep=False)].head(20)
    if count:
        return DataCheck(
            "duplicates",
            "Duplicate rows",
            "warning",
            False,
            f"{count} row(s) duplicate an earlier row ({count / len(frame):.1%})",
            table,
        )
    return DataCheck("duplicates", "Duplicate rows", "warning", True, "no duplicate rows", None)


def check_ranges(frame: pd.DataFrame, spec: ModelSpec) -> DataCheck:
    """Ranges of numeric features, infinite values (blocking) and far outliers beyond 3 IQR (warning)."""
    rows = []
    for name in spec.features.numeric:
        values = pd.to_numeric(frame[name], errors="coerce")
        finite = values[np.isfinite(values)]
        q1, q3 = (finite.quantile(0.25), finite.quantile(0.75)) if len(finite) else (np.nan, np.nan)
        iqr = q3 - q1
        outliers = int(((finite < q1 - 3 * iqr) | (finite > q3 + 3 * iqr)).sum()) if len(finite) and iqr > 0 else 0
        rows.append(
            {
                "column": name,
                "min": finite.min(),
                "p25": q1,
                "median": finite.median(),
                "p75": q3,
                "max": finite.max(),
                "infinite": int(np.isinf(values).sum()),
                "far_outliers": outliers,
            }
        )
    table = pd.DataFrame(rows, columns=["column", "min", "p25", "median", "p75", "max", "infinite", "far_outliers"])
    infinite = table[table["infinite"] > 0]
    if len(infinite):
        names = ", ".join(infinite["column"])
        return DataCheck("ranges", "Ranges and outliers", "blocking", False, f"infinite values in {names}", table)
    outlying = table[table["far_outliers"] > 0]
    if len(outlying):
        listed = ", ".join(f"{r.column} ({r.far_outliers})" for r in outlying.itertuples())
        return DataCheck(
            "ranges",
            "Ranges and outliers",
            "warning",
            False,
            f"values beyond 3 IQR from the quartiles: {listed}",
            table,
        )
    return DataCheck(
        "ranges", "Ranges and outliers", "blocking", True, "all numeric values finite and within 3 IQR", table
    )


def check_cardinality(frame: pd.DataFrame, spec: ModelSpec) -> DataCheck:
    """Levels per categorical feature; many levels or constant features are flagged, rare levels pooled."""
    limits = spec.thresholds
    rows = []
    for name in spec.features.categorical:
        counts = frame[name].astype("string").value_counts(dropna=True)
        rows.append(
            {
                "column": name,
                "levels": int(len(counts)),
                "rare_levels": int((counts < limits.min_category_count).sum()),
                "smallest_level": str(counts.index[-1]) if len(counts) else "",
                "smallest_count": int(counts.iloc[-1]) if len(counts) else 0,
            }
        )
    for name in spec.features.numeric:
        if frame[name].nunique(dropna=True) <= 1:
            rows.append(
                {
                    "column": name,
                    "levels": int(frame[name].nunique()),
                    "rare_levels": 0,
                    "smallest_level": "",
                    "smallest_count": 0,
                }
            )
    table = pd.DataFrame(rows, columns=["column", "levels", "rare_levels", "smallest_level", "smallest_count"])
    problems = [
        f"{r.column!r} has {r.levels} levels (more than {limits.max_categories})"
        for r in table.itertuples()
        if r.levels > limits.max_categories
    ]
    problems += [f"{r.column!r} is constant" for r in table.itertuples() if r.levels <= 1]
    pooled = int(table["rare_levels"].sum())
    note = f"{pooled} level(s) with fewer than {limits.min_category_count} rows are pooled into 'infrequent'"
    if problems:
        return DataCheck(
            "cardinality", "Categorical levels", "warning", False, "; ".join(problems) + f"; {note}", table
        )
    return DataCheck("cardinality", "Categorical levels", "warning", True, note, table)


def _target_mapping(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Each value of the target column, how often it occurs and whether it counts as adverse (modelled as 1)."""
    target = spec.target
    keys = label_keys(frame[target.column]).fillna("(missing)")
    counts = keys.value_counts().sort_index()

    def meaning(key: str) -> str:
        if key in target.adverse_labels:
            return "adverse (1)"
        if key == "(missing)" or (target.favourable_labels is not None and key not in target.favourable_labels):
            return "not used"
        return "favourable (0)"

    return pd.DataFrame(
        {
            "value": counts.index,
            "count": counts.to_numpy(),
            "rate": counts.to_numpy() / max(len(frame), 1),
            "modelled_as": [meaning(k) for k in counts.index],
        }
    )


def check_class_balance(frame: pd.DataFrame, spec: ModelSpec) -> DataCheck:
    """Enough adverse and non-adverse outcomes to fit and validate a model; the table maps each value."""
    y = adverse_target(frame, spec).dropna()
    adverse, good = int(y.sum()), int((1 - y).sum())
    table = _target_mapping(frame, spec)
    minimum = spec.thresholds.min_adverse_count
    if min(adverse, good) < minimum:
        return DataCheck(
            "class_balance",
            "Class balance",
            "blocking",
            False,
            f"only {min(adverse, good)} rows in the smaller class; at least {minimum} are needed",
            table,
        )
    return DataCheck(
        "class_balance",
        "Class balance",
        "blocking",
        True,
        f"adverse rate {adverse / len(y):.1%} ({adverse} of {len(y)})",
        table,
    )


def _rate_table(frame: pd.DataFrame, y: pd.Series, column: str) -> pd.DataFrame:
    grouped = pd.DataFrame({"group": frame[column].astype("string").fillna("(missing)"), "y": y})
    table = grouped.groupby("group", observed=True)["y"].agg(count="count", adverse_rate="mean").reset_index()
    table.insert(0, "column", column)
    return table


def check_target_by_segment(frame: pd.DataFrame, spec: ModelSpec) -> DataCheck:
    """Adverse rate by level of each categorical feature: the raw signal a model should reproduce."""
    y = adverse_target(frame, spec)
    tables = [_rate_table(frame, y, name) for name in spec.features.categorical]
    table = pd.concat(tables, ignore_index=True) if tables else None
    return DataCheck(
        "target_by_segment",
        "Adverse rate by segment",
        "info",
        True,
        f"adverse rate by level of {len(tables)} categorical feature(s)",
        table,
    )


def check_target_by_group(frame: pd.DataFrame, spec: ModelSpec) -> DataCheck:
    """Outcome rates by protected group in the data itself; the favourable-rate ratio to the reference group."""
    y = adverse_target(frame, spec)
    tables, notes, small = [], [], []
    for attribute in spec.protected_attributes:
        table = _rate_table(
            frame.assign(**{attribute.data_column: group_labels(frame[attribute.data_column])}),
            y,
            attribute.data_column,
        )
        favourable = 1 - table.set_index("group")["adverse_rate"]
        reference = favourable.get(attribute.reference, np.nan)
        table["favourable_ratio_to_reference"] = (1 - table["adverse_rate"]) / reference
        tables.append(table)
        worst = table.loc[table["favourable_ratio_to_reference"].idxmin()]
        notes.append(f"{attribute.name}: lowest ratio {worst['favourable_ratio_to_reference']:.3f} ({worst['group']})")
        small += [
            f"{attribute.name}={r.group} has {r.count} rows"
            for r in table.itertuples()
            if r.count < spec.fairness.min_group_size
        ]
    table = pd.concat(tables, ignore_index=True) if tables else None
    if small:
        return DataCheck(
            "target_by_group",
            "Outcome rate by protected group",
            "warning",
            False,
            "groups too small for reliable fairness statistics: " + "; ".join(small),
            table,
        )
    return DataCheck(
        "target_by_group",
        "Outcome rate by protected group",
        "info",
        True,
        "; ".join(notes) or "no protected attributes declared",
        table,
    )


def check_leakage(frame: pd.DataFrame, spec: ModelSpec) -> DataCheck:
    """A feature that separates the outcome (almost) perfectly on its own is likely filled after the decision."""
    y = adverse_target(frame, spec).to_numpy()
    table = leakage_screen(frame, y, list(spec.features.numeric), list(spec.features.categorical))
    limit = spec.thresholds.max_single_feature_auc
    suspects, named = leakage_suspects(table, limit)
    if len(suspects):
        return DataCheck(
            "leakage",
            "Single-feature leakage screen",
            "warning",
            False,
            f"{named} separate(s) the outcome alone beyond thresholds.max_single_feature_auc {limit}: "
            "check that each is known at decision time (a field filled later leaks the outcome)",
            table,
        )
    top = table.iloc[0] if len(table) else None
    note = f"strongest single feature {top.feature} (AUC {top.single_feature_auc:.3f})" if top is not None else ""
    return DataCheck("leakage", "Single-feature leakage screen", "warning", True, note, table)


def check_aliasing(frame: pd.DataFrame, spec: ModelSpec) -> DataCheck:
    """Features the others determine exactly (dropped before fitting) or nearly (reported)."""
    title = "Aliased and near-aliased features"
    try:
        found = aliased_features(
            model_inputs(frame, spec),
            list(spec.features.numeric),
            list(spec.features.categorical),
            min_category_count=spec.thresholds.min_category_count,
            seed=spec.split.seed,
        )
    except (ValueError, TypeError):  # non-numbers or infinities: the schema and range checks name them
        return DataCheck(
            "aliasing", title, "warning", False, "not checked until the schema and range checks pass", None
        )
    if not found:
        return DataCheck("aliasing", title, "warning", True, "no feature is determined by the others", None)
    table = pd.DataFrame([a.row() for a in found])
    message = "; ".join(
        f"{a.feature} {a.kind} (R² {a.r_squared:.6f}) with {', '.join(a.explained_by)}: {a.action}" for a in found
    )
    return DataCheck("aliasing", title, "warning", False, message, table)


DATA_CHECKS: list[CheckFunction] = [
    check_schema,
    check_missing,
    check_duplicates,
    check_ranges,
    check_cardinality,
    check_class_balance,
    check_target_by_segment,
    check_target_by_group,
    check_leakage,
    check_aliasing,
]


def validate_data(data: ModelData, spec: ModelSpec) -> DataValidationResult:
    """Run every data check; the caller decides whether to stop (see ``raise_for_blocking``)."""
    result = DataValidationResult(data_sha256=data.sha256, source=data.source, n_rows=len(data.frame))
    for check in DATA_CHECKS:
        result.checks.append(check(data.frame, spec))
    return result
