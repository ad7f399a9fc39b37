"""Wall time of the development suite (`workbench run` on the German credit spec), per notebook.

Peer, measured in the same run: the same work (load, data validation, training, registration) called
in-process from one Python interpreter, with no Papermill and no kernels, so the ratio is the cost of
running it as executed, archived notebooks.

Usage: .venv/bin/python benchmarks/suite_wall_time.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from _measure import new_project

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "notebooks" / "params" / "german_credit.yaml"

IN_PROCESS = """
from workbench.data import load_model_data, validate_data
from workbench.registry import configure, log_data_validation, register_training, start_pipeline_run
from workbench.spec import load_spec
from workbench.training import train
spec = load_spec({spec!r})
data = load_model_data(spec)
client = configure()
run_id = start_pipeline_run(spec, developer="bench", client=client)
log_data_validation(validate_data(data, spec), spec, run_id, client)
register_training(train(data, spec), run_id, developer="bench", client=client)
"""


def suite_once() -> tuple[float, dict[str, float]]:
    project, env = new_project()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "workbench.cli", "run", str(SPEC), "--developer", "priya", "--no-progress"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    total = time.perf_counter() - started
    per_notebook = {}
    for path in sorted((project / "reports" / "german_credit" / "v1").glob("*.ipynb")):
        per_notebook[path.stem] = float(nbformat.read(path, as_version=4).metadata.papermill.duration)
    return total, per_notebook


def in_process_once() -> float:
    project, env = new_project()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", IN_PROCESS.format(spec=str(SPEC))],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    totals, notebooks, baselines = [], {}, []
    for _ in range(args.repeats):
        total, per_notebook = suite_once()
        totals.append(total)
        for name, seconds in per_notebook.items():
            notebooks.setdefault(name, []).append(seconds)
        baselines.append(in_process_once())
    suite, baseline = statistics.median(totals), statistics.median(baselines)
    print(f"cores: {os.cpu_count()}, repeats: {args.repeats} (medians)")
    print("| what | seconds |")
    print("|---|---|")
    print(f"| `workbench run` (whole suite, CLI start to registered version) | {suite:.1f} |")
    for name, values in notebooks.items():
        print(f"| notebook {name} (Papermill, kernel start to last cell) | {statistics.median(values):.1f} |")
    print(f"| peer: same work in-process, no Papermill | {baseline:.1f} |")
    print(f"| ratio suite / in-process peer | {suite / baseline:.2f} |")


if __name__ == "__main__":
    main()
