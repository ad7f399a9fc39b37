"""Point-in-time training sets of card transactions: the workbench's Feast path against pandas and DuckDB as-of joins.

    python benchmarks/fraud_features.py [--sizes 150000 10000000] [--rounds 3] [--feast-max 1000000]

For each size, the synthetic transactions (``workbench.datasets``, seed 1) and the shipped card-fraud spec's
feature definitions: the source tables (each entity's state after each of its events; the merchant's daily
chargeback counts under the label-delay rule) are computed once by the workbench and applied to a Feast
store in a temporary project (``sources``: timed, shared by the three methods). Then, in a fresh process per
method and round (rounds interleaved, the order rotated each round), every transaction gets the stored values
as of one microsecond before it, and the request-time step finishes the features:

(f) the workbench path: Feast's ``get_historical_features`` on its file offline store;
(p) hand-written pandas: ``merge_asof`` per feature view, by entity key, backwards;
(d) DuckDB (``pip install duckdb``; not a dependency of the package): ``ASOF LEFT JOIN`` per view on the Parquet
    sources.

Each process reports its wall time and peak resident memory (whole process tree, polled every 0.1 s) and the
seconds of the join itself; the first round's results are compared value by value on the transactions training
uses, after the spec's warm-up (largest difference per method against (p), missing equal to missing). Sizes
above ``--feast-max`` leave (f) out: Feast's file store takes about a minute per 150,000 transactions here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run_measured  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "notebooks" / "params" / "card_fraud.yaml"
METHODS = {"f": "Feast get_historical_features (workbench)", "p": "pandas merge_asof", "d": "DuckDB ASOF JOIN"}


def _spec(folder: Path):
    from workbench.spec import parse_spec

    data = yaml.safe_load(SPEC.read_text("utf-8"))
    data["dataset"] = {"path": str(folder / "events.parquet")}
    return parse_spec(data)


def _events(folder: Path, spec) -> pd.DataFrame:
    from workbench.features import prepare_events

    return prepare_events(spec, pd.read_parquet(folder / "events.parquet"))


def build(folder: Path, size: int) -> None:
    """Child: draw the events and build the store's sources (source tables and Feast apply)."""
    from workbench.datasets import synthetic_card_transactions
    from workbench.features import apply_store
    from workbench.provenance import file_sha256

    synthetic_card_transactions(size, seed=1).to_parquet(folder / "events.parquet", index=False)
    spec = _spec(folder)
    started = time.perf_counter()
    apply_store(spec, _events(folder, spec), file_sha256(folder / "events.parquet"))
    print(json.dumps({"sources_seconds": time.perf_counter() - started}))


def _entity_rows(spec, events: pd.DataFrame) -> pd.DataFrame:
    from workbench.features import READ_BEFORE

    rows = events[list(spec.entities.values())].copy()
    rows["__row"] = np.arange(len(events))
    rows["read_time"] = (events[str(spec.event_time)] - READ_BEFORE).astype("datetime64[us, UTC]")
    return rows


def _pandas(spec, events: pd.DataFrame, sources: Path) -> pd.DataFrame:
    from workbench.features import view_definitions

    rows = _entity_rows(spec, events).sort_values("read_time", kind="stable")
    out = pd.DataFrame(index=np.arange(len(events)))
    for view in view_definitions(spec):
        table = pd.read_parquet(sources / f"{view.name}.parquet").sort_values("event_timestamp", kind="stable")
        joined = pd.merge_asof(
            rows[["__row", "read_time", view.key]],
            table,
            left_on="read_time",
            right_on="event_timestamp",
            by=view.key,
            direction="backward",
            allow_exact_matches=True,
        )
        joined = joined.set_index("__row").sort_index()
        for column in view.columns:
            out[column] = joined[column].to_numpy()
    return out


def _duckdb(spec, events: pd.DataFrame, sources: Path) -> pd.DataFrame:
    import duckdb

    from workbench.features import view_definitions

    connection = duckdb.connect()
    entity = _entity_rows(spec, events)  # noqa: F841 (read by DuckDB by name)
    out = pd.DataFrame(index=np.arange(len(events)))
    for view in view_definitions(spec):
        columns = ", ".join(f's."{c}"' for c in view.columns)
        joined = connection.execute(
            f"""SELECT e.__row, {columns} FROM entity e
                ASOF LEFT JOIN read_parquet('{sources / f"{view.name}.parquet"}') s
                ON e.{view.key} = s.{view.key} AND e.read_time >= s.event_timestamp
                ORDER BY e.__row"""
        ).df()
        for column in view.columns:
            out[column] = joined[column].to_numpy()
    return out


def one(folder: Path, method: str, keep: bool) -> None:
    """Child: one method's point-in-time set, finished, timed; written to Parquet when ``keep``."""
    from workbench.features import finish_features, historical_values, open_store, store_dir

    os.environ["WORKBENCH_HOME"] = str(folder)
    spec = _spec(folder)
    events = _events(folder, spec)
    started = time.perf_counter()
    if method == "f":
        stored = historical_values(open_store(spec), spec, events)
    elif method == "p":
        stored = _pandas(spec, events, store_dir(spec.name) / "data")
    else:
        stored = _duckdb(spec, events, store_dir(spec.name) / "data")
    finished = finish_features(spec, stored, events)
    seconds = time.perf_counter() - started
    if keep:
        finished.reset_index(drop=True).to_parquet(folder / f"result_{method}.parquet")
    print(json.dumps({"join_seconds": seconds, "rows": len(finished)}))


def _compare(folder: Path, methods: list[str]) -> dict[str, str]:
    """Each method against pandas over the transactions training uses (after the spec's warm-up): the largest
    difference where both have a value, and the transactions where one has a value and the other none."""
    spec = _spec(folder)
    when = _events(folder, spec)[str(spec.event_time)]
    used = (when >= when.min().normalize() + pd.Timedelta(days=spec.feature_store.warm_up_days)).to_numpy()
    base = pd.read_parquet(folder / "result_p.parquet")[used]
    found = {}
    for method in methods:
        other = pd.read_parquet(folder / f"result_{method}.parquet")[used]
        a, b = base.to_numpy(dtype=float), other[base.columns].to_numpy(dtype=float)
        apart = np.isnan(a) != np.isnan(b)
        both = ~np.isnan(a) & ~np.isnan(b)
        largest = float(np.abs(a[both] - b[both]).max(initial=0.0))
        rows = int(apart.any(axis=1).sum())
        columns = sorted(base.columns[apart.any(axis=0)])
        found[method] = f"{largest:.3g}; {rows:,} of {len(a):,} missing on one side only" + (
            f" ({', '.join(columns)})" if columns else ""
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[150_000, 10_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--feast-max", type=int, default=1_000_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        os.environ["WORKBENCH_HOME"] = args.folder
        return build(Path(args.folder), args.build)
    if args.one:
        return one(Path(args.folder), args.one, args.keep)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    me = [sys.executable, str(Path(__file__).resolve())]
    for size in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix=f"fraud-features-{size}-"))
        (folder / "registry_store").mkdir()
        seconds, peak, done = run_measured([*me, "--build", str(size), "--folder", str(folder)], env=env)
        sources = json.loads(done.stdout.strip().splitlines()[-1])["sources_seconds"]
        print(f"\n{size:,} transactions: drawn and sources built in {seconds:.1f} s (sources {sources:.1f} s, "
              f"peak {peak:,.0f} MiB)", flush=True)  # fmt: skip
        methods = [m for m in "fpd" if m != "f" or size <= args.feast_max]
        results: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
        for round_ in range(args.rounds):
            order = methods[round_ % len(methods) :] + methods[: round_ % len(methods)]
            for method in order:
                command = [*me, "--one", method, "--folder", str(folder), *(["--keep"] if round_ == 0 else [])]
                wall, peak, done = run_measured(command, env=env)
                join = json.loads(done.stdout.strip().splitlines()[-1])["join_seconds"]
                results[method].append((wall, join, peak))
                print(f"  round {round_ + 1} {METHODS[method]}: join {join:.2f} s, process {wall:.1f} s, "
                      f"peak {peak:,.0f} MiB", flush=True)  # fmt: skip
        worst = _compare(folder, methods)
        print("\n| method | join s (median, range) | process s | peak MiB (median, range) | max diff vs pandas |")
        print("|---|---|---|---|---|")
        for method in methods:
            walls, joins, peaks = zip(*results[method], strict=True)
            print(
                f"| {METHODS[method]} | {median(joins):.2f} ({min(joins):.2f}-{max(joins):.2f}) | {median(walls):.1f} "
                f"| {median(peaks):,.0f} ({min(peaks):,.0f}-{max(peaks):,.0f}) | {worst[method]} |"
            )
        subprocess.run(["rm", "-rf", str(folder)], check=False)


if __name__ == "__main__":
    main()
