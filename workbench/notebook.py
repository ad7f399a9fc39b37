"""Small helpers that keep the notebooks thin: session setup and rendering results as tables.

Notebooks call these so that they read as narrative documents; the logic they show lives in the package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display
from mlflow import MlflowClient

from workbench.data import DataCheck, read_spec
from workbench.registry import configure, start_pipeline_run
from workbench.spec import ModelSpec

_OUTCOME_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIPPED"}


@dataclass
class Session:
    """What a suite notebook works with: the spec, the registry client and the run it logs into."""

    spec: ModelSpec
    client: MlflowClient
    run_id: str


def start(spec_path: str, run_id: str = "", tracking_uri: str = "", developer: str = "") -> Session:
    """Load the spec and connect to the registry; open a run when the notebook is run on its own."""
    spec = read_spec(Path(spec_path).expanduser())
    client = configure(tracking_uri or None)
    if not run_id:
        run_id = start_pipeline_run(spec, developer=developer or current_user(), client=client)
    return Session(spec=spec, client=client, run_id=run_id)


def current_user() -> str:
    """Who is acting: ``WORKBENCH_USER`` if set, else the operating-system user."""
    import getpass

    return os.environ.get("WORKBENCH_USER") or getpass.getuser()


def show_check(check: DataCheck, max_rows: int = 60) -> None:
    """A check as a heading with its outcome and message, followed by its evidence table."""
    display(Markdown(f"### {check.title} — **{_OUTCOME_MARK[check.outcome]}**\n\n{check.message}"))
    if check.table is not None and len(check.table):
        show_table(check.table, max_rows=max_rows)


def show_table(table: pd.DataFrame, max_rows: int = 60, digits: int = 4) -> None:
    """A table rounded for reading, cut to ``max_rows`` with a note of how many were left out."""
    shown = table.head(max_rows).round(digits)
    display(shown)
    if len(table) > max_rows:
        display(Markdown(f"*{len(table) - max_rows} more rows in the logged JSON.*"))


@dataclass
class ValidatorSession:
    """What a validator notebook works with: the version's context, the registry and the validator's run."""

    context: object
    client: MlflowClient
    run_id: str
    validator: str


def start_validation(
    model_name: str, version: int, tracking_uri: str = "", validator: str = "", run_id: str = ""
) -> ValidatorSession:
    """Load the version from the registry alone; open the validator's run when run on its own."""
    from workbench.registry import start_validation_run
    from workbench.validation import load_context

    client = configure(tracking_uri or None)
    validator = validator or current_user()
    if not version:
        versions = client.search_model_versions(f"name='{model_name}'")
        if not versions:
            raise LookupError(f"no registered model named {model_name!r}")
        version = max(int(v.version) for v in versions)
    if not run_id:
        run_id = start_validation_run(client, model_name, version, validator)
    context = load_context(model_name, version, client)
    return ValidatorSession(context=context, client=client, run_id=run_id, validator=validator)


def show_png(png: bytes) -> None:
    """Display PNG bytes (a figure rendered by the package)."""
    from IPython.display import Image

    display(Image(data=png))


def show_result(result, max_rows: int = 30) -> None:
    """A validation test result: heading with outcome, the reason, its tables and figures."""
    display(
        Markdown(f"#### {result.title} — **{_OUTCOME_MARK[result.outcome]}**\n\n`{result.test_id}`: {result.reason}")
    )
    for table in result.tables.values():
        show_table(table, max_rows=max_rows)
    for png in result.figures.values():
        show_png(png)
