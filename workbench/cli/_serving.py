"""``workbench serve``, ``replay`` and ``rollout``: the platform engineer's commands."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

import typer

from workbench.cli._common import fail, governance_service, login

app = typer.Typer(
    help="Serve the @champion, replay recorded decisions, roll out the @challenger.", no_args_is_help=True
)


@app.command()
def serve(
    model: Annotated[
        list[str] | None,
        typer.Option(help="a registered model to serve (repeat for several; default: every model with a @champion)"),
    ] = None,
    port: Annotated[int, typer.Option(help="port")] = 8000,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="worker processes (uvicorn's own)")] = 1,
    refresh: Annotated[float, typer.Option(help="seconds between registry checks for a new @champion")] = 2.0,
    generic: Annotated[bool, typer.Option(help="always score through the artefact's predict_proba")] = False,
    body_timeout: Annotated[
        float, typer.Option(help="seconds a client may take to send a body (then 408)", min=0.1)
    ] = 10.0,
    decision_store: Annotated[
        str | None,
        typer.Option(
            help="where decisions are recorded: sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE (default: "
            "WORKBENCH_DECISION_STORE, else WORKBENCH_DATABASE_URL, else registry_store/serving/decisions.db)"
        ),
    ] = None,
) -> None:
    """Serve the @champion (and @challenger) of each model: decisions with reason codes, each durably recorded."""
    import uvicorn

    from workbench.governance import AuditTrail
    from workbench.paths import project_root
    from workbench.registry import configure, tracking_uri
    from workbench.serving import UVICORN_CONFIG, Fleet, decision_store_url, open_decision_store

    if workers < 1:
        fail(f"--workers: {workers} is not a number of processes (1 or more)")
    url = decision_store_url(decision_store)
    try:
        store = open_decision_store(url)
    except ValueError as error:
        fail(f"--decision-store: {error}")
    try:  # refuse early, with the reasons, rather than in every worker
        if not store.check():
            fail(f"--decision-store: {store.url} cannot record decisions: {store.failure}")
        preflight = Fleet(configure(), store, AuditTrail(), names=model or None, refresh_seconds=0)
        preflight.start()
    finally:
        store.close()
    if not preflight.servers:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in preflight.refused.items())
        fail(f"refusing to serve: {reasons or 'no registered model has a @champion (promote an approved version)'}")
    os.environ.update(
        WORKBENCH_SERVE_MODELS=",".join(model or []),
        WORKBENCH_SERVE_REFRESH=str(refresh),
        WORKBENCH_SERVE_GENERIC="1" if generic else "0",
        WORKBENCH_SERVE_BODY_SECONDS=str(body_timeout),
        WORKBENCH_DECISION_STORE=url,
        WORKBENCH_HOME=str(project_root()),
        MLFLOW_TRACKING_URI=tracking_uri(),
        PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="workbench-metrics-"),
    )
    for name, server in preflight.servers.items():
        champion = server.champion
        path = "generic" if generic else champion.path
        typer.echo(f"serving {name}/{champion.version} (sha256 {champion.model_sha256[:12]}..., {path} path)")
    for name, reason in preflight.refused.items():
        typer.secho(f"not serving {name} (503 until it can be loaded): {reason}", fg=typer.colors.YELLOW)
    typer.echo(f"on http://{host}:{port} with {workers} worker(s); decisions in {store.url}")
    preflight = None  # the workers load their own; this process only supervises them
    uvicorn.run(**UVICORN_CONFIG, host=host, port=port, workers=workers)


@app.command()
def replay(
    decision_id: Annotated[str, typer.Argument(help="the decision id a client received")],
    decision_store: Annotated[
        str | None, typer.Option(help="the store the server records to (default as for serve)")
    ] = None,
) -> None:
    """Recompute a recorded decision from the registry and show it beside the record; exit 1 on a difference."""
    from workbench.batch import BatchError, batch_decisions, batch_of
    from workbench.registry import VersionNotFoundError, configure
    from workbench.serving import DecisionNotFoundError, open_decision_store, replay_decision

    try:  # a batch decision is read where its batch's audit record says the batch was written
        store = batch_decisions(decision_id) if batch_of(decision_id) else open_decision_store(decision_store)
    except (ValueError, BatchError) as error:
        fail(f"--decision-store: {error}" if not isinstance(error, BatchError) else str(error))
    try:
        result = replay_decision(decision_id, configure(), store)
    except (DecisionNotFoundError, VersionNotFoundError, BatchError) as error:
        fail(str(error))
    finally:
        store.close()
    old, new = result.recorded, result.replayed
    typer.echo(f"decision {decision_id}: {old['model']}/{old['version']}, route {old['route']}, at {old['time']}")
    typer.echo(f"{'':22}{'recorded':<36}{'replayed from the registry':<36}")
    typer.echo(f"{'model sha256':22}{old['model_sha256'][:32]:<36}{new['model_sha256'][:32]:<36}")
    typer.echo(f"{'score':22}{old['score']!r:<36}{new['score']!r:<36}")
    typer.echo(f"{'decision':22}{old['decision']:<36}{new['decision']:<36}")
    for i in range(max(len(old["reasons"]), len(new["reasons"]))):
        left = old["reasons"][i] if i < len(old["reasons"]) else None
        right = new["reasons"][i] if i < len(new["reasons"]) else None
        show = lambda r: f"{r['feature']} ({r['contribution']:+.4f})" if r else "-"  # noqa: E731
        typer.echo(f"{f'reason {i + 1}':22}{show(left):<36}{show(right):<36}")
    if result.identical:
        typer.echo(f"identical: same model bytes, score, decision and reasons ({new['method']})")
        return
    for difference in result.differences:
        typer.secho(f"DIFFERENCE {difference}", fg=typer.colors.RED)
    raise typer.Exit(1)


@app.command()
def rollout(
    name: Annotated[str, typer.Argument(help="registered model")],
    mode: Annotated[str, typer.Argument(help="off, shadow or canary")],
    reason: Annotated[str, typer.Option(help="why")],
    share: Annotated[float, typer.Option(help="canary share of traffic (0-1)")] = 0.0,
    user: Annotated[str | None, typer.Option(help="the deployer")] = None,
) -> None:
    """Put the @challenger in shadow, in canary on a share of traffic, or take it out (off)."""
    from workbench.governance import GovernanceError

    if mode == "canary" and share == 0.0:  # the champion's spec names the default share
        from workbench.governance import MlflowVersionStore
        from workbench.registry import configure, recorded_spec

        client = configure()
        holder = MlflowVersionStore(client).alias_holder(name, "champion")
        if holder is not None:
            entry = client.get_model_version(name, str(holder))
            share = recorded_spec(client, entry.run_id).serving.rollout.canary_share
    try:
        result = governance_service().set_rollout(login(user), name, mode, reason, share=share)
    except (GovernanceError, ValueError) as error:
        fail(str(error))
    target = result.get("target", name) if isinstance(result, dict) else name
    typer.echo(f"rollout of {target}: {mode}" + (f" on {share:.0%} of traffic" if mode == "canary" else ""))
