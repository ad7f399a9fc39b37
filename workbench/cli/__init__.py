"""The ``workbench`` command: one entry point for developers, validators, approvers and operators.

Expected failures (a bad spec, changed data, a failed notebook, an unknown version) print one clear
message and exit with status 2; ``reproduce`` exits 1 when it finds a difference.

Each area's commands live in a module of their own (``_pipeline``, ``_governance``, ``_serving``,
``_monitoring``), with what they share in ``_common``; this module joins them into one :data:`app`.
"""

from __future__ import annotations

import os
import sys

import typer

from workbench._startup import defer_iri_grammar
from workbench.cli import _governance, _monitoring, _pipeline, _serving

__all__ = ["app", "main"]

# the command modules import their heavy dependencies inside the commands, so this still comes before jsonschema
defer_iri_grammar()

app = typer.Typer(
    help="MRM Workbench: reproducible, validated, governed models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# the areas' commands at the top level, in this order, then the command groups
app.add_typer(_pipeline.app)
app.add_typer(_governance.app)
app.add_typer(_serving.app)
app.add_typer(_monitoring.app)
app.add_typer(_governance.users_app, name="users")
app.add_typer(_governance.audit_app, name="audit")
app.add_typer(_monitoring.outcomes_app, name="outcomes")


def main() -> None:
    """Console-script entry point.

    A command that ran notebooks ends with ZeroMQ sockets of stopped kernels, and the interpreter's own
    teardown waits on them (over a second). Everything a command records is committed before it returns, so
    once the exit handlers have run (logging, MLflow) the process ends without the teardown.
    """
    import atexit

    # MLflow's INFO lines (database migrations, "Created version") would bury the workbench's own summary
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    try:
        app()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, int | None):
            print(stop.code, file=sys.stderr)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)
