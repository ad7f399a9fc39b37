"""The ``workbench`` command: one entry point for developers, validators, approvers and operators.

Expected failures (a bad spec, changed data, a failed notebook, an unknown version) print one clear
message and exit with status 2; ``reproduce`` exits 1 when it finds a difference.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from workbench._startup import defer_iri_grammar
from workbench.paths import project_root

defer_iri_grammar()

app = typer.Typer(
    help="MRM Workbench: reproducible, validated, governed models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DEFAULT_SPEC = Path("notebooks/params/german_credit.yaml")


def _fail(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


def _expected_errors() -> tuple[type[BaseException], ...]:
    from workbench.data import DataChangedError, DataValidationError
    from workbench.pipeline import SuiteError
    from workbench.registry import IndependenceError, VersionNotFoundError
    from workbench.spec import SpecError
    from workbench.validation import ModelMismatchError, SplitMismatchError

    return (
        SpecError,
        DataChangedError,
        DataValidationError,
        SuiteError,
        VersionNotFoundError,
        FileNotFoundError,
        IndependenceError,
        ModelMismatchError,
        SplitMismatchError,
    )


def _user(explicit: str | None) -> str:
    from workbench.notebook import current_user

    return explicit or current_user()


def _login(name: str | None):
    """Authenticate a user: the secret comes from WORKBENCH_PASSWORD or, at a terminal, a prompt."""
    import getpass

    from workbench.governance import AuthenticationError, UserStore

    store = UserStore()
    if not store.list():
        _fail(
            "no users are configured: add them with `workbench users add NAME --role ROLE` "
            "(or `workbench users demo` for the demonstration users)"
        )
    name = _user(name)
    secret = os.environ.get("WORKBENCH_PASSWORD")
    if secret is None:
        if not sys.stdin.isatty():
            _fail(f"password for {name}: set WORKBENCH_PASSWORD or run at a terminal")
        secret = getpass.getpass(f"password for {name}: ")
    try:
        return store.authenticate(name, secret)
    except AuthenticationError as error:
        _fail(str(error))


def _service():
    from workbench.governance import service

    return service()


@app.command()
def run(
    spec: Annotated[Path, typer.Argument(help="model spec YAML")] = DEFAULT_SPEC,
    developer: Annotated[
        str | None, typer.Option(help="who develops this version (default: WORKBENCH_USER or the OS user)")
    ] = None,
    validator: Annotated[
        str | None, typer.Option(help="also validate the new version as this person, then build its documents")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar per notebook")] = True,
) -> None:
    """Run the suite headlessly: data validation and training; with --validator also validation and documents."""
    from workbench.pipeline import SuiteError, run_suite

    path = spec if spec.is_absolute() or spec.exists() else project_root() / spec
    developer_user = _login(developer)
    validator_user = _login(validator) if validator else None
    try:
        result = run_suite(path, developer=developer_user, progress=progress, echo=typer.echo)
    except SuiteError as error:
        where = f"\nexecuted notebook: {error.notebook}" if error.notebook else ""
        _fail(f"{error}{where}")
        return
    except (PermissionError, *_expected_errors()) as error:
        _fail(str(error))
        return
    metrics = result.metrics
    typer.echo(f"\nregistered {result.model} version {result.version} (status development), run {result.run_id}")
    typer.echo(
        f"  chosen model validation AUC {metrics.get('validation_auc', float('nan')):.4f}, "
        f"Gini {metrics.get('validation_gini', float('nan')):.4f}, "
        f"cross-validated AUC {metrics.get('cv_auc_mean', float('nan')):.4f}"
    )
    typer.echo(f"  executed notebooks in {result.reports_dir}:")
    for path in result.notebooks:
        typer.echo(f"    {path.name}")
    from workbench.registry import tracking_uri

    typer.echo(f"  registry: {tracking_uri()}  (browse: mlflow ui --backend-store-uri {tracking_uri()})")
    if validator_user is not None:
        typer.echo("")
        _validate(result.model, result.version, validator_user, progress, documents=True)
        document(result.model, result.version)
    else:
        typer.echo(f"next: workbench validate {result.model} {result.version} --validator NAME")


@app.command()
def validate(
    name: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[int, typer.Argument(help="version number")],
    validator: Annotated[
        str | None, typer.Option(help="who validates (default: WORKBENCH_USER or the OS user)")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar per notebook")] = True,
    documents: Annotated[
        bool, typer.Option("--document", help="then build the version's documents, as `workbench document` does")
    ] = False,
) -> None:
    """Run the independent validation suite (validation, fairness, explainability) on a registered version."""
    from workbench._kernels import kernel_source

    # the kernels' fork server imports the validation stack while this process logs in and checks the version
    with kernel_source(project_root()) as new_kernel:
        _validate(name, version, _login(validator), progress, new_kernel, documents)
    if documents:
        document(name, version)


def _validate(name: str, version: int, validator, progress: bool, new_kernel=None, documents: bool = False) -> None:
    """Run the validation suite; with ``documents`` its spare time prepares the documents built next."""
    from workbench.governance import GovernanceError
    from workbench.pipeline import SuiteError, run_validation_suite

    try:
        result = run_validation_suite(
            name,
            version,
            validator=validator,
            progress=progress,
            echo=typer.echo,
            new_kernel=new_kernel,
            prepare_documents=documents,
        )
    except SuiteError as error:
        where = f"\nexecuted notebook: {error.notebook}" if error.notebook else ""
        _fail(f"{error}{where}")
        return
    except (GovernanceError, *_expected_errors()) as error:
        _fail(f"cannot validate {name} version {version}: {error}")
        return
    counts = result.open_findings
    typer.echo(
        f"\n{name} version {result.version}: {result.outcome.upper()} "
        f"(open findings: {counts['high']} high, {counts['medium']} medium, {counts['low']} low); "
        f"run {result.run_id}"
    )
    typer.echo(f"  executed notebooks in {result.notebooks[0].parent}:")
    for path in result.notebooks:
        typer.echo(f"    {path.name}")


@app.command()
def document(
    name: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[int, typer.Argument(help="version number")],
) -> None:
    """Build the SR 11-7 model document and the fairness report (HTML and PDF) of a validated version."""
    from workbench.reports import NotValidatedError, build_documents

    try:
        documents = build_documents(name, version)
    except (NotValidatedError, *_expected_errors()) as error:
        _fail(f"cannot document {name} version {version}: {error}")
        return
    typer.echo(f"documents of {name} version {version} in {documents.sr117_pdf.parent}:")
    for path in documents.all():
        typer.echo(f"    {path.name}")


@app.command()
def reproduce(
    name: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[int, typer.Argument(help="version number")],
) -> None:
    """Re-train a version from its recorded spec, data hash and seed, and compare everything."""
    from workbench.reproduce import reproduce as run_reproduction

    try:
        report = run_reproduction(name, version)
    except _expected_errors() as error:
        _fail(f"cannot reproduce {name} version {version}: {error}")
        return
    typer.echo(f"reproduction of {name} version {version}")
    for row in report.identities.itertuples():
        typer.echo(f"  {'same' if row.identical else 'DIFFERENT':9} {row.item}: {row.reproduced}")
    same = int(report.metrics["identical"].sum())
    typer.echo(f"  metrics: {same} of {len(report.metrics)} identical")
    typer.echo(
        f"  predictions on {report.n_predictions} validation rows: max difference "
        f"{report.max_prediction_difference:.3g}"
    )
    for note in report.notes:
        typer.echo(f"  note: {note}")
    if report.identical:
        typer.secho("IDENTICAL: every metric and prediction matches the record", fg=typer.colors.GREEN)
        return
    typer.secho(f"DIFFERENT: {len(report.differences)} difference(s)", fg=typer.colors.RED, err=True)
    for line in report.differences:
        typer.echo(f"  - {line}", err=True)
    raise typer.Exit(1)


@app.command()
def lab(
    port: Annotated[int, typer.Option(help="port for JupyterLab")] = 8888,
    browser: Annotated[bool, typer.Option(help="open a browser")] = False,
) -> None:
    """Open JupyterLab on notebooks/ with this package importable and the same registry."""
    from workbench.pipeline import notebooks_dir
    from workbench.registry import tracking_uri

    env = dict(os.environ, WORKBENCH_HOME=str(project_root()), MLFLOW_TRACKING_URI=tracking_uri())
    command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks_dir()}", f"--port={port}"]
    if not browser:
        command.append("--no-browser")
    typer.echo(f"JupyterLab on {notebooks_dir()} (registry {env['MLFLOW_TRACKING_URI']})")
    raise typer.Exit(subprocess.call(command, env=env))


@app.command("app")
def run_app(
    port: Annotated[int, typer.Option(help="port")] = 5006,
    address: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    show: Annotated[bool, typer.Option(help="open a browser")] = False,
) -> None:
    """Serve the approval dashboard (login required) at http://ADDRESS:PORT/app."""
    from workbench.dashboard import serve
    from workbench.registry import tracking_uri

    typer.echo(f"MRM Workbench app on http://{address}:{port}/app (registry {tracking_uri()})")
    serve(port=port, address=address, show=show)


def _register_subcommands() -> None:
    from workbench import cli_governance, cli_monitoring, cli_serving

    cli_governance.register(app)
    cli_serving.register(app)
    cli_monitoring.register(app)


_register_subcommands()


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


if __name__ == "__main__":
    main()
