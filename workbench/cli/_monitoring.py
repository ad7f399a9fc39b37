"""``workbench monitor``, ``retrain``, ``review``, ``simulate`` and ``outcomes import``: watching production
and closing the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli._common import acting_user, fail, governance_service, login, step

app = typer.Typer(help="Monitor production, retrain, review, and simulate traffic.", no_args_is_help=True)
outcomes_app = typer.Typer(help="Observed outcomes of recorded decisions (1 = adverse), keyed by decision id.")


@outcomes_app.command("import")
def outcomes_import(
    name: Annotated[str, typer.Argument(help="registered model")],
    path: Annotated[Path, typer.Argument(help="CSV or Parquet: decision_id, outcome, optional protected groups")],
) -> None:
    """Record outcomes; every bad row (unknown decision, duplicate, wrong label) is listed and skipped."""
    from workbench.monitoring import OutcomeStore, read_outcome_file
    from workbench.registry import configure, recorded_spec
    from workbench.serving import open_decision_store

    client = configure()
    try:
        rows = read_outcome_file(path)
        entry = client.get_model_version_by_alias(name, "champion")
    except (ValueError, FileNotFoundError) as error:
        fail(str(error))
    except Exception:  # no champion: MLflow raises
        fail(f"{name} has no @champion; outcomes are recorded against served decisions")
    spec = recorded_spec(client, entry.run_id)
    groups = tuple(a.name for a in spec.protected_attributes)
    result = OutcomeStore().record(rows, open_decision_store(), spec.target.adverse_value, groups)
    typer.echo(f"recorded {result.recorded} outcome(s) of {len(rows)} row(s) from {path}")
    for rejected in result.rejected:
        typer.secho(f"  row {rejected.row} ({rejected.decision_id or '-'}): {rejected.reason}", fg=typer.colors.YELLOW)
    if result.rejected:
        raise typer.Exit(1)


@app.command()
def monitor(
    name: Annotated[str, typer.Argument(help="registered model")],
    version: Annotated[int | None, typer.Option(help="version (default: the @champion)")] = None,
    period: Annotated[str | None, typer.Option(help="D, W or M (default: the spec's)")] = None,
    user: Annotated[
        str | None, typer.Option(help="validator or admin: on an alert, put the version under review as this user")
    ] = None,
    pdf: Annotated[bool, typer.Option(help="also print the report to PDF")] = True,
    simulated: Annotated[bool, typer.Option(help="periods from `workbench simulate`, not the calendar")] = False,
    retrain_as: Annotated[
        str | None,
        typer.Option(help="developer: on an alert, retrain on recent labelled decisions as this user"),
    ] = None,
    retrain_periods: Annotated[int, typer.Option(help="labelled periods a retraining uses")] = 6,
    engine: Annotated[str, typer.Option(help="pandas (this machine) or spark (the same tables, counted on Spark)")] = (
        "pandas"
    ),
    spark_master: Annotated[str | None, typer.Option(help="Spark master URL (default: Spark's, else local[*])")] = None,
) -> None:
    """Drift, outcome performance, fairness and reason mix per period against the validation reference.

    The run is filed in the registry (its id is printed); with --user an alert puts the version under
    review, and with --retrain-as it also trains a @challenger on the recent labelled decisions.
    """
    from workbench.governance import GovernanceError
    from workbench.monitoring import (
        act_on_alerts,
        record_monitoring_run,
        run_monitoring,
        simulated_periods,
        write_report,
    )
    from workbench.registry import configure

    if engine not in ("pandas", "spark"):
        fail(f"--engine: {engine!r} is not one of pandas, spark")
    period_of = None
    if simulated:
        try:
            period_of = simulated_periods(name)
        except LookupError as error:
            fail(f"--simulated: {error}")
    actor = login(user) if user else None
    client = configure()
    step(f"copying {name}'s new decisions to Parquet, rebuilding the reference from the registry, computing drift")
    try:
        result = run_monitoring(
            client, name, version, period=period, period_of=period_of, engine=engine, spark_master=spark_master
        )
    except (LookupError, RuntimeError) as error:  # RuntimeError: Spark unavailable (named)
        fail(str(error))
    step(
        f"{result.decisions} decisions in {len(result.periods)} periods; writing the report"
        + (" (HTML, PDF)" if pdf else "")
    )
    paths = write_report(result, pdf=pdf)
    step("filing the monitoring run in the registry")
    run_id = record_monitoring_run(
        client,
        result,
        paths,
        period_source="simulated" if simulated else "calendar",
        user=actor.name if actor else "",
    )
    shown = result.periods[["period", "decisions", "approval_rate", "score_psi", "max_feature_psi"]]
    typer.echo(f"{name} v{result.version}: {result.decisions} decisions, {result.labelled} with outcomes")
    typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for alert in result.alerts:
        typer.secho(f"ALERT {alert.period} {alert.kind}: {alert.message}", fg=typer.colors.RED)
    typer.echo("report: " + ", ".join(str(p) for p in paths))
    typer.echo(f"monitoring run {run_id}")
    if actor and result.alerts:
        try:
            record = act_on_alerts(result, governance_service(), actor)
        except GovernanceError as error:
            fail(str(error))
        if record:
            typer.echo(f"{name}/{result.version} is now under review (audit record {record['seq']})")
    if retrain_as and result.alerts:
        _retrain(run_id, retrain_as, retrain_periods)


@app.command()
def retrain(
    monitoring_run: Annotated[str, typer.Argument(help="the monitoring run id `workbench monitor` printed")],
    user: Annotated[str | None, typer.Option(help="the developer who trains (default WORKBENCH_USER)")] = None,
    periods: Annotated[int, typer.Option(help="labelled periods to train on, the most recent ones")] = 6,
    developer: Annotated[str | None, typer.Option(hidden=True, help="older name of --user")] = None,
) -> None:
    """Train on a monitoring run's recent labelled decisions; the new version becomes @challenger.

    It is registered with status development and lineage to the monitoring run and window; the scoring
    server serves it only after independent validation and approval.
    """
    _retrain(monitoring_run, acting_user(user, developer, "--developer"), periods)


def _retrain(monitoring_run: str, developer: str | None, periods: int) -> None:
    from workbench.monitoring import RetrainingError
    from workbench.monitoring import retrain as run_retraining
    from workbench.pipeline import SuiteError
    from workbench.registry import configure

    user = login(developer)
    try:
        result = run_retraining(
            configure(), monitoring_run, developer=user, service=governance_service(), periods=periods, echo=typer.echo
        )
    except (RetrainingError, LookupError, PermissionError, SuiteError) as error:
        fail(f"retraining refused: {error}")
    lineage = {key.rsplit(".", 1)[-1]: value for key, value in result.lineage.items()}
    typer.echo(
        f"registered {result.model} version {result.version} (status development) in run {result.run_id}; "
        f"lineage: monitoring run {monitoring_run}, periods {lineage['window_first_period']}"
        f"..{lineage['window_last_period']}, {lineage['decisions']} decisions"
    )
    if result.challenger:
        typer.echo(f"{result.model}/{result.version} is @challenger; validate and approve it before it is served")
    else:
        typer.secho(f"@challenger not moved: {result.note}", fg=typer.colors.YELLOW)


@app.command("review")
def review(days: Annotated[int, typer.Option(help="the period under review, in days")] = 7) -> None:
    """The committee's review across production models: status, alerts, drift, findings, re-validations."""
    from workbench.monitoring import build_review
    from workbench.registry import configure

    paths = build_review(configure(), days)
    typer.echo("review: " + ", ".join(str(p) for p in paths))


@app.command()
def simulate(
    name: Annotated[str, typer.Argument(help="registered model served at --url")],
    token: Annotated[str, typer.Option(envvar="WORKBENCH_TOKEN", help="a scoring client's bearer token")],
    url: Annotated[str, typer.Option(help="the scoring server")] = "http://127.0.0.1:8000",
    periods: Annotated[int, typer.Option(help="how many periods")] = 12,
    per_period: Annotated[int, typer.Option(help="applications per period")] = 500,
    drift_start: Annotated[int, typer.Option(help="first drifted period (-1: no drift)")] = 6,
    amount_factor: Annotated[float, typer.Option(help="credit amounts multiplied by this at full drift")] = 1.8,
    outcome_delay: Annotated[int, typer.Option(help="periods before outcomes arrive")] = 2,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Send simulated applicants (drift injected) through the server; import outcomes once they are due."""
    from workbench.monitoring import simulate_traffic

    if not token:
        fail("--token: a scoring client's token is needed (or WORKBENCH_TOKEN)")
    drift = f"drift from period {drift_start}" if drift_start >= 0 else "no drift"
    step(f"sending {periods} periods x {per_period} applications of {name} to {url} ({drift}); this takes a while")
    summary = simulate_traffic(
        name,
        url,
        token,
        periods=periods,
        per_period=per_period,
        drift_start=drift_start,
        amount_factor=amount_factor,
        outcome_delay=outcome_delay,
        seed=seed,
    )
    step("simulation finished")
    typer.echo(
        f"{summary['decisions']} decisions in {periods} periods ({summary['refused']} applications refused by the "
        f"input contract); recorded {summary['outcomes']} outcomes "
        f"(periods older than {outcome_delay}); periods in {summary['mapping']}"
    )
