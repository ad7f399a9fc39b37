"""Wall time and peak memory of independent validation and documentation.

1. German credit (1,000 rows), on a version trained by `workbench run` in a fresh registry: validation and
   documentation in one command (`workbench validate --document`, as `make demo` runs them), then each of
   `workbench validate` and `workbench document` alone.
2. A generated 1,000,000-row data set with the German schema (rows drawn from the real data, numbers jittered),
   trained with the scorecard family only, then validated.

Peer, measured in the same run: the bare cost of starting one kernel and importing the stack
(`python -c "import workbench.validation, workbench.fairness, workbench.explain, workbench.registry"`),
which every notebook pays.

Usage: .venv/bin/python benchmarks/validation_wall_time.py [--rows 1000000] [--skip-large]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml
from _measure import new_project, run_measured

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "notebooks" / "params" / "german_credit.yaml"


def workbench(*args: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    seconds, peak, _ = run_measured([sys.executable, "-m", "workbench.cli", *args], env=env, cwd=cwd)
    return seconds, peak


def german() -> list[tuple[str, float, float]]:
    project, env = new_project()
    rows = []
    seconds, peak = workbench("run", str(SPEC), "--developer", "priya", "--no-progress", env=env, cwd=project)
    rows.append(("German: workbench run (development suite)", seconds, peak))
    validate = ("validate", "german_credit", "1", "--validator", "marco", "--no-progress")
    seconds, peak = workbench(*validate, "--document", env=env, cwd=project)
    rows.append(("German: validation + documentation (`workbench validate --document`)", seconds, peak))
    seconds, peak = workbench(*validate, env=env, cwd=project)
    rows.append(("German: `workbench validate` alone (03, 04, 05 in forked kernels, conclusion)", seconds, peak))
    alone = seconds
    seconds, peak = workbench("document", "german_credit", "1", env=env, cwd=project)
    rows.append(("German: `workbench document` alone (SR 11-7 + fairness, HTML + PDF)", seconds, peak))
    rows.append(("German: the two commands one after the other", alone + seconds, float("nan")))
    return rows


def large(n_rows: int) -> list[tuple[str, float, float]]:
    from workbench.datasets import synthetic_german_credit

    project, env = new_project()
    started = time.perf_counter()
    path = project / "applications.parquet"
    synthetic_german_credit(n_rows, seed=1).to_parquet(path, index=False)
    rows = [(f"{n_rows:,} rows: generate and write parquet", time.perf_counter() - started, float("nan"))]
    spec = yaml.safe_load(SPEC.read_text())
    spec.update(
        name="german_credit_large",
        dataset={"path": str(path)},
        candidates=[{"family": "scorecard_logit"}],
        selection={"cv_folds": 3},
    )
    spec_path = project / "large.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    seconds, peak = workbench("run", str(spec_path), "--developer", "priya", "--no-progress", env=env, cwd=project)
    rows.append((f"{n_rows:,} rows: workbench run (scorecard, 3-fold CV)", seconds, peak))
    seconds, peak = workbench(
        "validate", "german_credit_large", "1", "--validator", "marco", "--no-progress", env=env, cwd=project
    )
    rows.append((f"{n_rows:,} rows: workbench validate", seconds, peak))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    peer, peer_peak, _ = run_measured(
        [sys.executable, "-c", "import workbench.validation, workbench.fairness, workbench.explain, workbench.registry"]
    )
    rows = [("peer: import the validation stack once (per-kernel floor)", peer, peer_peak), *german()]
    if not args.skip_large:
        rows += large(args.rows)
    print(f"cores: {os.cpu_count()}")
    print("| what | seconds | peak MiB (process tree) |")
    print("|---|---|---|")
    for what, seconds, peak in rows:
        print(f"| {what} | {seconds:.1f} | {'' if peak != peak else f'{peak:,.0f}'} |")


if __name__ == "__main__":
    main()
