"""``workbench run``, ``validate``, ``document``, ``reproduce``, ``lab`` and ``app``: the developer's and the
validator's commands, which run the notebook suite and build the documents."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli._common import acting_user, fail, login, step
from workbench.paths import project_root

app = typer.Typer(help="Run, validate, document and reproduce model versions.", no_args_is_help=True)

DEFAULT_SPEC = Path("notebooks/params/german_credit.yaml")


def _expected_errors() -> tuple[type[BaseException], ...]:
    """The failures a suite command reports as one message with exit status 2, not as a traceback."""
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


@app.command()
def run(
    spec: Annotated[Path, typer.Argument(help="model spec YAML")] = DEFAULT_SPEC,
    user: Annotated[
        str | None, typer.Option(help="the developer of this version (default: WORKBENCH_USER or the OS user)")
    ] = None,
    validator: Annotated[
        str | None, typer.Option(help="also validate the new version as this person, then build its documents")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar per notebook")] = True,
    developer: Annotated[str | None, typer.Option(hidden=True, help="older name of --user")] = None,
) -> None:
    """Run the suite headlessly: data validation and training; with --validator also validation and documents."""
    from workbench.pipeline import SuiteError, run_suite

    path = spec if spec.is_absolute() or spec.exists() else project_root() / spec
    developer_user = login(acting_user(user, developer, "--developer"))
    validator_user = login(validator) if validator else None
    try:
        result = run_suite(path, developer=developer_user, progress=progress, echo=typer.echo)
    except SuiteError as error:
        where = f"\nexecuted notebook: {error.notebook}" if error.notebook else ""
        fail(f"{error}{where}")
    except (PermissionError, *_expected_errors()) as error:
        fail(str(error))
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
        typer.echo(f"next: workbench validate {result.model} {result.version} --user VALIDATOR")


@app.command()
def validate(
    name: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[int, typer.Argument(help="version number")],
    user: Annotated[str | None, typer.Option(help="the validator (default: WORKBENCH_USER or the OS user)")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar per notebook")] = True,
    documents: Annotated[
        bool, typer.Option("--document", help="then build the version's documents, as `workbench document` does")
    ] = False,
    validator: Annotated[str | None, typer.Option(hidden=True, help="older name of --user")] = None,
) -> None:
    """Run the independent validation suite (validation, fairness, explainability) on a registered version."""
    from workbench._kernels import kernel_source

    validator = acting_user(user, validator, "--validator")
    # the kernels' fork server imports the validation stack on the other core while this process checks the
    # version (a missing one stops the server again at once) and logs in
    with kernel_source(project_root()) as new_kernel:
        _registered(name, version, "validate")
        step(f"{name} version {version} is registered; the validation kernels are starting")
        _validate(name, version, login(validator), progress, new_kernel, documents)
    step(f"validation of {name} version {version} finished")
    if documents:
        document(name, version)


def _registered(name: str, version: int, verb: str) -> None:
    """Fail at once, before any heavy work, when the version is not registered (with a did-you-mean)."""
    from workbench.registry import VersionNotFoundError, configure, get_version

    try:
        get_version(configure(), name, version)
    except VersionNotFoundError as error:
        fail(f"cannot {verb} {name} version {version}: {error}")


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
        step = f"\nnext: {error.next_step}" if error.next_step else ""
        fail(f"{error}{where}{step}")
    except (GovernanceError, *_expected_errors()) as error:
        fail(f"cannot validate {name} version {version}: {error}")
    counts = result.open_findings
    typer.echo(
        f"\n{name} version {result.version}: {result.outcome.upper()} "
        f"(open findings: {counts['high']} high, {counts['medium']} medium, {counts['low']} low); "
        f"run {result.run_id}"
    )
    typer.echo(f"  executed notebooks in {result.notebooks[0].parent}:")
    for path in result.notebooks:
        typer.echo(f"    {path.name}")
    typer.echo("next: " + "\n  ".join(result.next_steps()))


@app.command()
def document(
    name: Annotated[str, typer.Argument(help="registered model name")],
    version: Annotated[int, typer.Argument(help="version number")],
) -> None:
    """Build the SR 11-7 model document and the fairness report (HTML and PDF) of a validated version."""
    _registered(name, version, "document")
    from workbench.reports import NotValidatedError, build_documents

    step(
        f"building the documents of {name} version {version} from the recorded evidence: "
        "SR 11-7 model document and fairness report, HTML and PDF"
    )
    try:
        documents = build_documents(name, version)
    except (NotValidatedError, *_expected_errors()) as error:
        fail(f"cannot document {name} version {version}: {error}")
    step(f"documents of {name} version {version} written")
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
        fail(f"cannot reproduce {name} version {version}: {error}")
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


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def lab(
    context: typer.Context,
    port: Annotated[int, typer.Option(help="port for JupyterLab")] = 8888,
    browser: Annotated[bool, typer.Option(help="open a browser")] = False,
) -> None:
    """Open JupyterLab on notebooks/ with this package importable and the same registry.

    Any further arguments go to JupyterLab unchanged, e.g. ``workbench lab --ServerApp.ip=0.0.0.0``.
    """
    from workbench.pipeline import notebooks_dir
    from workbench.registry import tracking_uri

    env = dict(os.environ, WORKBENCH_HOME=str(project_root()), MLFLOW_TRACKING_URI=tracking_uri())
    command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks_dir()}", f"--port={port}"]
    if not browser:
        command.append("--no-browser")
    command += context.args
    typer.echo(f"JupyterLab on {notebooks_dir()} (registry {env['MLFLOW_TRACKING_URI']})")
    raise typer.Exit(subprocess.call(command, env=env))


@app.command("app")
def run_app(
    port: Annotated[int, typer.Option(help="port")] = 5006,
    address: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    show: Annotated[bool, typer.Option(help="open a browser")] = False,
) -> None:
    """Serve the approval dashboard (login required) at http://ADDRESS:PORT/app."""
    from workbench.dashboard import AppConfigError, cookie_secret, serve, session_hours
    from workbench.registry import tracking_uri

    try:  # a bad secret or session length stops here, named, rather than in the server
        cookie_secret(), session_hours()
    except AppConfigError as error:
        fail(str(error))
    typer.echo(f"MRM Workbench app on http://{address}:{port}/app (registry {tracking_uri()})")
    serve(port=port, address=address, show=show)
