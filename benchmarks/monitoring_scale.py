"""Monitoring over 10,000,000 recorded decisions x 20 features: wall time and peak memory.

    python benchmarks/monitoring_scale.py [--rows 10000000] [--labelled 1000000]

The 20 features are the German credit data's 20 attributes (a benchmark spec that also uses age, personal
status and foreign worker as inputs, so that the width matches). A logistic scorecard is trained on the real
data; its validation sample is the monitoring reference (bins fixed on it). 500,000 applicants generated from
the real rows are scored (score, decision, top reason code) and repeated with new ids across 20 weekly
periods into Parquet parts, the layout `workbench monitor` reads; outcomes are known for ``--labelled`` of
them. The monitoring computation (drift per feature and period with PSI, KS / chi-square, score PSI, approval
rate, AUC / Gini / KS and calibration on the labelled decisions, reason mix) runs in a fresh process whose
wall time and peak resident memory are reported.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BASE_ROWS = 500_000


def benchmark_spec():
    """The German spec with all 20 attributes as inputs and no protected attributes (width only)."""
    from workbench.spec import load_spec, parse_spec

    data = load_spec(ROOT / "notebooks" / "params" / "german_credit.yaml").model_dump(mode="json")
    data["name"] = "german_credit_20"
    data["features"]["numeric"].append("age")
    data["features"]["categorical"] += ["personal_status_sex", "foreign_worker"]
    data["protected_attributes"] = []
    data["candidates"] = [c for c in data["candidates"] if c["family"] == "scorecard_logit"]
    return parse_spec(data)


def reference_and_model():
    from workbench.data import load_model_data
    from workbench.monitoring import build_reference
    from workbench.training import model_inputs, train

    spec = benchmark_spec()
    data = load_model_data(spec)
    result = train(data, spec)
    validation = model_inputs(data.frame, spec).iloc[result.split.validation]
    scores = result.model.predict_proba(validation)[:, 1]
    return spec, result.model, build_reference(spec, validation, scores, spec.name, 1)


def generate(folder: Path, rows: int, labelled: int) -> None:
    """Score BASE_ROWS generated applicants once, then write them with new ids and times up to ``rows``."""
    from workbench.datasets import synthetic_german_credit
    from workbench.explain import ContributionExplainer
    from workbench.training import model_inputs

    spec, model, _ = reference_and_model()
    base = synthetic_german_credit(BASE_ROWS, seed=11)
    inputs = model_inputs(base, spec)
    scores = model.predict_proba(inputs)[:, 1]
    explainer = ContributionExplainer(model, spec, inputs.head(5000))
    contributions = explainer.contributions(inputs).to_numpy()
    top = np.asarray(spec.features.all)[contributions.argmax(axis=1)]
    frame = inputs.copy()
    for name in spec.features.categorical:
        frame[name] = frame[name].astype("category")
    frame["score"] = scores
    frame["decision"] = pd.Categorical(np.where(scores >= spec.decision.cutoff, "decline", "approve"))
    frame["top_reason"] = pd.Categorical(top)
    frame["version"] = 1
    frame["route"] = pd.Categorical(["champion"] * len(frame))
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    outcomes = []
    for part in range(int(np.ceil(rows / BASE_ROWS))):
        n = min(BASE_ROWS, rows - part * BASE_ROWS)
        chunk = frame.iloc[:n].copy()
        chunk.insert(0, "id", [f"d{part:03d}-{i:07d}" for i in range(n)])
        week = part % 20
        offsets = pd.to_timedelta(np.sort(rng.uniform(0, 7 * 86400 - 1, n)), unit="s")  # in time order, one week
        chunk.insert(1, "time", pd.Timestamp("2026-01-05", tz="UTC") + pd.Timedelta(weeks=week) + offsets)
        chunk.to_parquet(folder / f"part-{part:03d}.parquet", index=False)
        share = labelled / rows
        picked = rng.random(n) < share
        outcomes.append(
            pd.DataFrame(
                {"decision_id": chunk["id"][picked], "outcome": (rng.random(picked.sum()) < scores[:n][picked])}
            )
        )
    labels = pd.concat(outcomes, ignore_index=True)
    labels["outcome"] = labels["outcome"].astype("int8")
    labels.to_parquet(folder.parent / "outcomes.parquet", index=False)


def measure(folder: Path) -> None:
    """In a fresh process: build the reference, then time the monitoring computation alone."""
    from workbench.monitoring import Monitor

    _, _, reference = reference_and_model()
    outcomes = pd.read_parquet(folder.parent / "outcomes.parquet")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = Monitor(reference).run(folder, outcomes)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"RESULT decisions={result.decisions} labelled={result.labelled} periods={len(result.periods)} "
        f"features={len(reference.features)} seconds={seconds:.1f} peak_mib={peak:.0f} "
        f"peak_before_mib={before:.0f} max_score_psi={result.periods['score_psi'].max():.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--labelled", type=int, default=1_000_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    root = Path(tempfile.mkdtemp(prefix="wb-monitor-"))
    folder = root / "decisions"
    try:
        started = time.perf_counter()
        generate(folder, args.rows, args.labelled)
        print(f"generated {args.rows:,} decisions in {time.perf_counter() - started:.0f} s under {folder}")
        output = subprocess.run(
            [sys.executable, __file__, "--measure", str(folder)], capture_output=True, text=True, check=True
        ).stdout
        print(next(line for line in output.splitlines() if line.startswith("RESULT")))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
