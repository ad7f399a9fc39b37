"""AML data and account features over 10,000,000 transfers: wall time and peak memory, with a pandas baseline.

    python benchmarks/aml_features.py [--transfers 10000000] [--baseline-transfers 1000000]

Each step runs in a fresh process (wall time of the step inside it; peak resident memory of the process):

1. generate: ``synthetic_aml_data`` (accounts, transfers, typologies) and the weekly account-period SAR labels,
   written to Parquet (the writing is not timed).
2. features: ``account_features`` over all account-weeks (7- and 30-day windows, 26 features) from the Parquet
   files (reading not timed).
3. baseline: the plain pandas way (merge each account-week with the account's transfers, filter the window,
   group and aggregate: sums, counts and distinct counterparties; no pass-through or new-counterparty
   features) on ``--baseline-transfers``, and the same figures from ``account_features`` compared with it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_generate(n: int, folder: Path) -> dict:
    from workbench.datasets import account_period_labels, synthetic_aml_data

    started = time.perf_counter()
    data = synthetic_aml_data(n, seed=0)
    generated = time.perf_counter() - started
    labels = account_period_labels(data, period_days=7)
    labelled = time.perf_counter() - started
    data.transfers.to_parquet(folder / "transfers.parquet")
    labels.to_parquet(folder / "labels.parquet")
    return {"transfers": len(data.transfers), "accounts": len(data.accounts), "account_weeks": len(labels),
            "laundering": int(data.transfers["is_laundering"].sum()), "generate_s": generated,
            "labels_s": labelled - generated, "peak_mib": _peak_mib()}  # fmt: skip


def step_features(folder: Path) -> dict:
    from workbench.features import account_features

    transfers = pd.read_parquet(folder / "transfers.parquet")
    labels = pd.read_parquet(folder / "labels.parquet", columns=["account_id", "as_of"])
    before = _peak_mib()
    started = time.perf_counter()
    features = account_features(transfers, labels)
    elapsed = time.perf_counter() - started
    features.to_parquet(folder / "features.parquet")
    return {"rows": len(features), "columns": features.shape[1] - 2, "features_s": elapsed,
            "peak_mib_before": before, "peak_mib": _peak_mib()}  # fmt: skip


def pandas_baseline(transfers: pd.DataFrame, queries: pd.DataFrame, days: int) -> pd.DataFrame:
    """Sums, counts and distinct counterparties per account-week, the straightforward pandas way."""
    out = transfers.rename(columns={"from_account": "account_id", "to_account": "other"}).assign(inflow=False)
    inn = transfers.rename(columns={"to_account": "account_id", "from_account": "other"}).assign(inflow=True)
    events = pd.concat([out, inn], ignore_index=True)[["account_id", "other", "timestamp", "amount", "inflow"]]
    q = queries.reset_index(names="query")
    joined = q.merge(events, on="account_id")
    joined = joined[
        (joined["timestamp"] < joined["as_of"]) & (joined["timestamp"] >= joined["as_of"] - pd.Timedelta(days=days))
    ]
    joined = joined.assign(
        in_amount=joined["amount"].where(joined["inflow"], 0.0),
        out_amount=joined["amount"].where(~joined["inflow"], 0.0),
        cp=joined["other"].where(joined["other"] != joined["account_id"]),
        sender=joined["other"].where(joined["inflow"] & (joined["other"] != joined["account_id"])),
        receiver=joined["other"].where(~joined["inflow"] & (joined["other"] != joined["account_id"])),
    )
    result = joined.groupby("query").agg(
        inflow=("in_amount", "sum"), outflow=("out_amount", "sum"), counterparties=("cp", "nunique"),
        fan_in=("sender", "nunique"), fan_out=("receiver", "nunique"),
    )  # fmt: skip
    return result.reindex(q["query"], fill_value=0)


def step_baseline(n: int, folder: Path) -> dict:
    from workbench.datasets import account_period_labels, synthetic_aml_data
    from workbench.features import account_features

    data = synthetic_aml_data(n, seed=0)
    queries = account_period_labels(data, period_days=7)[["account_id", "as_of"]]
    transfers = data.transfers[["timestamp", "from_account", "to_account", "amount", "payment_format"]]
    started = time.perf_counter()
    baseline = {days: pandas_baseline(transfers, queries, days) for days in (7, 30)}
    pandas_s = time.perf_counter() - started
    started = time.perf_counter()
    ours = account_features(transfers, queries)
    ours_s = time.perf_counter() - started
    worst = 0.0
    for days, frame in baseline.items():
        for name in frame.columns:
            worst = max(worst, float(np.max(np.abs(frame[name].to_numpy() - ours[f"{name}_{days}d"].to_numpy()))))
    return {"transfers": len(transfers), "account_weeks": len(queries), "pandas_s": pandas_s,
            "account_features_s": ours_s, "largest_difference": worst, "peak_mib": _peak_mib()}  # fmt: skip


def _run(*args: str) -> dict:
    command = [sys.executable, __file__, *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"process_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=10_000_000)
    parser.add_argument("--baseline-transfers", type=int, default=1_000_000)
    parser.add_argument("--step", choices=["generate", "features", "baseline"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.step == "generate":
        print(json.dumps(step_generate(args.transfers, args.folder)))
        return
    if args.step == "features":
        print(json.dumps(step_features(args.folder)))
        return
    if args.step == "baseline":
        print(json.dumps(step_baseline(args.baseline_transfers, args.folder)))
        return
    with tempfile.TemporaryDirectory(prefix="wb-aml-bench-") as folder:
        generate = _run("--step", "generate", "--transfers", str(args.transfers), "--folder", folder)
        print("generate", json.dumps(generate), flush=True)
        features = _run("--step", "features", "--folder", folder)
        print("features", json.dumps(features), flush=True)
        baseline = _run("--step", "baseline", "--baseline-transfers", str(args.baseline_transfers), "--folder", folder)
        print("baseline", json.dumps(baseline), flush=True)


if __name__ == "__main__":
    main()
