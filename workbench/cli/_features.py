"""``workbench features apply``, ``materialize`` and ``skew``: a fraud model's Feast feature store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli._common import fail
from workbench.kinds import KINDS, kind_of

if TYPE_CHECKING:
    from workbench.spec import ModelSpec

app = typer.Typer(
    help="The feature store of fraud models (Feast, local: Parquet offline, SQLite online).", no_args_is_help=True
)


def _store_kinds() -> str:
    """The kinds whose features come from the store, as error messages name them."""
    return "kind: " + ", ".join(k.name for k in KINDS.values() if k.feature_store)


def _spec(name: str) -> ModelSpec:
    """A spec by file path, or by model name from ``notebooks/params/<name>.yaml``; only fraud models have a store."""
    from workbench.paths import project_root
    from workbench.spec import SpecError, load_spec

    path = Path(name)
    if not path.suffix:
        candidates = [
            project_root() / "notebooks" / "params" / f"{name}.yaml",
            Path("notebooks/params") / f"{name}.yaml",
        ]
        path = candidates[0]
    try:
        spec = load_spec(path)
    except SpecError as error:
        fail(str(error))
    if not kind_of(spec).feature_store or not spec.features.from_store:
        fail(f"{spec.name}: kind {spec.kind} has no feature store (features.from_store is for {_store_kinds()})")
    return spec


def _events(spec: ModelSpec):
    """The spec's events in time order, with the sha256 of their file."""
    from workbench.data import DataChangedError, resolve_data_path
    from workbench.features import prepare_events
    from workbench.provenance import file_sha256
    from workbench.spec import SpecError

    try:
        path, _source = resolve_data_path(spec)
        sha256 = file_sha256(path)
        if spec.dataset.sha256 and spec.dataset.sha256 != sha256:
            raise DataChangedError(f"{path} has sha256 {sha256}, the spec says {spec.dataset.sha256}")
        import pandas as pd

        frame = pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)
        return prepare_events(spec, frame), sha256
    except (SpecError, DataChangedError, KeyError) as error:
        fail(str(error))


@app.command("apply")
def apply(
    name: Annotated[str, typer.Argument(help="model name (notebooks/params/NAME.yaml) or a spec file")],
    force: Annotated[bool, typer.Option(help="rebuild even when the store is current")] = False,
) -> None:
    """Compute the source tables and register the entities and feature views with Feast."""
    from workbench.features import apply_store, store_dir, view_definitions

    spec = _spec(name)
    events, sha256 = _events(spec)
    repo = apply_store(spec, events, sha256, force=force)
    views = ", ".join(f"{v.name} ({v.entity}, {len(v.columns)} columns)" for v in view_definitions(spec))
    typer.echo(f"feature store of {spec.name} at {store_dir(spec.name)}: entities {', '.join(spec.entities)}")
    typer.echo(f"  views: {views}")
    typer.echo(f"  built from {len(events)} events, data sha256 {sha256[:12]}...; registry {repo / 'registry.pb'}")


@app.command("materialize")
def materialize_command(
    name: Annotated[str, typer.Argument(help="model name (notebooks/params/NAME.yaml) or a spec file")],
    until: Annotated[
        str | None, typer.Option(help="ISO time (UTC unless given); default: the latest source row")
    ] = None,
) -> None:
    """Load the online store (SQLite) with every entity's latest values up to ``--until``."""
    import pandas as pd

    from workbench.features import FeatureStoreError, materialize

    spec = _spec(name)
    moment: datetime | None = None
    if until is not None:
        try:
            stamp = pd.Timestamp(until)
        except ValueError:
            fail(f"--until: {until!r} is not a time (e.g. 2026-03-01T12:00:00)")
        moment = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()
    try:
        reached = materialize(spec, moment)
    except FeatureStoreError as error:
        fail(str(error))
    typer.echo(f"online store of {spec.name} materialised up to {pd.Timestamp(reached).isoformat()}")


@app.command("skew")
def skew(
    name: Annotated[str, typer.Argument(help="registered model")],
    version: Annotated[int, typer.Argument(help="registered version")],
    sample: Annotated[int | None, typer.Option(help="events replayed (default: feature_store.skew_sample)")] = None,
) -> None:
    """Replay events through the online path and compare every feature with its offline value; exit 1 on skew."""
    from workbench.data import DataChangedError, load_model_data
    from workbench.features import FeatureStoreError, skew_check
    from workbench.registry import configure, get_version, recorded_spec
    from workbench.spec import SpecError

    client = configure()
    try:
        record = get_version(client, name, version)
        spec = recorded_spec(client, record.run_id)
        data = load_model_data(spec, expected_sha256=record.tags.get("data_sha256"))
    except (ValueError, LookupError, SpecError, DataChangedError, FeatureStoreError) as error:
        fail(str(error))
    if not kind_of(spec).feature_store:
        fail(f"{name} version {version} is a {spec.kind} model: it has no feature store to check")
    report = skew_check(spec, data.frame, sample=sample or spec.feature_store.skew_sample, seed=spec.split.seed)
    tolerance = spec.feature_store.skew_tolerance
    for row in report.table.itertuples():
        mark = "ok  " if row.max_abs_difference <= tolerance else "SKEW"
        typer.echo(f"  {mark} {row.feature:40s} largest difference {row.max_abs_difference:.3g}")
    worst = float(report.table["max_abs_difference"].max())
    if worst > tolerance:
        typer.secho(f"{name} v{version}: train-serve skew above {tolerance:g} ({report.events} events)", fg="red")
        raise typer.Exit(1)
    typer.echo(f"{name} v{version}: no skew in {report.events} events (largest difference {worst:.3g})")
