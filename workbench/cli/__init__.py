"""The ``workbench`` command: one entry point for developers, validators, approvers and operators.

Expected failures (a bad spec, changed data, a failed notebook, an unknown version) print one clear
message and exit with status 2; ``reproduce`` exits 1 when it finds a difference.

Each area's commands live in a module of their own (``_pipeline``, ``_governance``, ``_serving``,
``_monitoring``, ``_features``), with what they share in ``_common``; this module joins them into one :data:`app`.
"""

from __future__ import annotations

import os

import typer

from workbench.cli import _batch, _features, _governance, _monitoring, _pipeline, _serving

__all__ = ["app", "main"]

app = typer.Typer(
    help="MRM Workbench: reproducible, validated, governed models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# the areas' commands at the top level, in this order, then the command groups


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"workbench {version('mrm-workbench')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="print the version"),
) -> None:
    """MRM Workbench: reproducible, validated, governed models."""


app.add_typer(_pipeline.app)
app.add_typer(_governance.app)
app.add_typer(_serving.app)
app.add_typer(_monitoring.app)
app.add_typer(_governance.users_app, name="users")
app.add_typer(_governance.audit_app, name="audit")
app.add_typer(_monitoring.outcomes_app, name="outcomes")
app.add_typer(_features.app, name="features")
app.add_typer(_batch.app, name="batch")


def main() -> None:
    """Console-script entry point (also ``python -m workbench.cli``)."""
    # MLflow's INFO lines (database migrations, "Created version") would bury the workbench's own summary
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    try:
        app()
    except RuntimeError as error:  # a registry database that cannot be used: one message, exit 2
        from workbench.registry import RegistryUnavailableError

        if not isinstance(error, RegistryUnavailableError):
            raise
        typer.secho(str(error), err=True, fg=typer.colors.RED)
        raise SystemExit(2) from None
