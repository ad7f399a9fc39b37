"""PSI drift of 1,000,000 decisions x 20 features: ours against Evidently's data drift report, same rows, same bins.

    python benchmarks/drift_vs_evidently.py [--rows 1000000] [--evidently-python PATH]

Evidently (0.7) runs in its own virtual environment (``--evidently-python``, default
``/tmp/evidently-venv/bin/python``; create it with ``python -m venv /tmp/evidently-venv &&
/tmp/evidently-venv/bin/pip install evidently==0.7.23 'pandas<3' pyarrow``), so its pins never touch the
project's. Both sides read the same Parquet files: the reference (the validation sample of the 20-feature
benchmark spec, see monitoring_scale.py) and the current rows (generated from the real German rows).

Evidently's PSI bins a numeric column with more than 20 distinct reference values into Sturges bins over the
combined data, every other column by distinct value; ours counts the same rows on those same bins with the
workbench's counting (``Bins``) and ``psi_from_counts``. Times: Evidently's ``Report.run`` for the drift preset
with ``method="psi"``, and ours for counting plus PSI, each from data already in memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from monitoring_scale import benchmark_spec  # noqa: E402

EVIDENTLY_SCRIPT = r"""
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

folder, numeric, categorical = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
reference = pd.read_parquet(f"{folder}/reference.parquet")
current = pd.read_parquet(f"{folder}/current.parquet")
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
started = time.perf_counter()
snapshot = Report([DataDriftPreset(method="psi")]).run(
    current_data=Dataset.from_pandas(current, data_definition=definition),
    reference_data=Dataset.from_pandas(reference, data_definition=definition),
)
seconds = time.perf_counter() - started
values = {m["config"]["column"]: m["value"] for m in snapshot.dict()["metrics"] if m["config"].get("column")}
print(json.dumps({"seconds": seconds, "psi": values}))
"""


def our_psi(reference: pd.Series, current: pd.Series, numeric: bool) -> float:
    """PSI with the workbench's counting and formula on Evidently's bins.

    Evidently's bins: Sturges edges over both samples for a numeric column with more than 20 distinct reference
    values (numpy.histogram's rule: [a, b), the last bin closed), else one bin per distinct value of either
    sample. ``current`` arrives as a pandas categorical for text columns (Arrow dictionary encoding, as
    monitoring reads its Parquet), so categories are counted by code.
    """
    from workbench.stats import psi_from_counts

    if numeric and reference.nunique() > 20:
        values = current.to_numpy(float)
        edges = np.histogram_bin_edges(np.concatenate([reference.to_numpy(float), values]), "sturges")

        def counts(array):
            positions = np.searchsorted(edges, array, side="right") - 1
            positions[array == edges[-1]] = len(edges) - 2
            return np.bincount(positions, minlength=len(edges) - 1)[: len(edges) - 1]

        return psi_from_counts(counts(reference.to_numpy(float)), counts(values))
    if numeric:  # few distinct values: one bin per value, counted on the numbers themselves
        actual_by_level = current.value_counts().to_dict()
        expected_by_level = reference.value_counts().to_dict()
        levels = sorted(set(expected_by_level) | set(actual_by_level))
        return psi_from_counts(
            np.array([expected_by_level.get(k, 0) for k in levels]),
            np.array([actual_by_level.get(k, 0) for k in levels]),
        )
    if isinstance(current.dtype, pd.CategoricalDtype):
        per_category = np.bincount(current.cat.codes.to_numpy() + 1, minlength=len(current.cat.categories) + 1)[1:]
        actual_by_level = dict(zip(current.cat.categories.astype(str), per_category, strict=True))
    else:
        actual_by_level = current.astype(str).value_counts().to_dict()
    expected_by_level = reference.astype(str).value_counts().to_dict()
    levels = sorted(set(expected_by_level) | {k for k, v in actual_by_level.items() if v})
    return psi_from_counts(
        np.array([expected_by_level.get(k, 0) for k in levels]), np.array([actual_by_level.get(k, 0) for k in levels])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--evidently-python", default="/tmp/evidently-venv/bin/python")
    args = parser.parse_args()

    from workbench.data import load_model_data
    from workbench.datasets import synthetic_german_credit
    from workbench.training import model_inputs, train

    spec = benchmark_spec()
    data = load_model_data(spec)
    split = train(data, spec).split
    reference = model_inputs(data.frame, spec).iloc[split.validation].reset_index(drop=True)
    current = model_inputs(synthetic_german_credit(args.rows, seed=5), spec)
    numeric, categorical = list(spec.features.numeric), list(spec.features.categorical)
    folder = Path(tempfile.mkdtemp(prefix="wb-evidently-"))
    reference.to_parquet(folder / "reference.parquet", index=False)
    current.to_parquet(folder / "current.parquet", index=False)

    output = subprocess.run(
        [args.evidently_python, "-c", EVIDENTLY_SCRIPT, str(folder), json.dumps(numeric), json.dumps(categorical)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    theirs = json.loads(output.strip().splitlines()[-1])

    reference = pd.read_parquet(folder / "reference.parquet")
    started = time.perf_counter()
    # text columns are dictionary-encoded in the Parquet file: read them as dictionaries, never as strings
    current = pq.read_table(folder / "current.parquet", read_dictionary=categorical).to_pandas()
    ours = {c: our_psi(reference[c], current[c], c in numeric) for c in numeric + categorical}
    seconds = time.perf_counter() - started

    differences = {c: abs(ours[c] - theirs["psi"][c]) for c in ours}
    print(f"{args.rows:,} rows x {len(ours)} features; reference {len(reference)} rows")
    print("| feature | ours | Evidently | abs. difference |")
    print("|---|---|---|---|")
    for column in ours:
        print(f"| {column} | {ours[column]:.12f} | {theirs['psi'][column]:.12f} | {differences[column]:.1e} |")
    print(
        f"\nEvidently Report.run: {theirs['seconds']:.2f} s; ours (count + PSI): {seconds:.3f} s; "
        f"ratio {theirs['seconds'] / seconds:.1f}x; largest PSI difference {max(differences.values()):.1e}"
    )


if __name__ == "__main__":
    main()
