"""Re-running a registered version's training from its record and comparing the outcome.

The spec comes from the version's run (not from the working tree, which may have moved on), the data must
match the recorded sha256, and the split and seed are re-derived from the spec. Every logged metric and the
registered model's predictions on the validation sample are compared with the re-run, exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from workbench.data import load_model_data, validate_data
from workbench.provenance import environment_sha256, git_state
from workbench.registry import configure, get_version, load_model, recorded_spec
from workbench.spec import spec_sha256
from workbench.training import train


@dataclass
class ReproductionReport:
    """Recorded against reproduced: metrics, predictions, identities; ``identical`` only if all agree."""

    name: str
    version: int
    metrics: pd.DataFrame
    identities: pd.DataFrame
    max_prediction_difference: float
    n_predictions: int
    notes: list[str] = field(default_factory=list)

    @property
    def differences(self) -> list[str]:
        """Each disagreement, in words."""
        found = [
            f"metric {r.metric}: recorded {r.recorded!r}, reproduced {r.reproduced!r}"
            for r in self.metrics.itertuples()
            if not r.identical
        ]
        found += [
            f"{r.item}: recorded {r.recorded}, reproduced {r.reproduced}"
            for r in self.identities.itertuples()
            if not r.identical
        ]
        if self.max_prediction_difference != 0.0:
            found.append(
                f"predictions on the {self.n_predictions} validation rows differ by up to "
                f"{self.max_prediction_difference:.3g}"
            )
        return found

    @property
    def identical(self) -> bool:
        """True when every metric, identity and prediction matches exactly."""
        return not self.differences


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def reproduce(name: str, version: int | str, client: MlflowClient | None = None) -> ReproductionReport:
    """Re-train a version from its record; raises ``DataChangedError`` if the data no longer matches."""
    client = client or configure()
    record = get_version(client, name, version)
    tags = record.tags
    run = client.get_run(record.run_id)
    spec = recorded_spec(client, record.run_id)
    data = load_model_data(spec, expected_sha256=tags.get("data_sha256"))

    checks = validate_data(data, spec)
    result = train(data, spec)
    reproduced_metrics = dict(result.metrics)
    reproduced_metrics["data.n_rows"] = float(checks.n_rows)
    reproduced_metrics["data.blocking_failures"] = float(len(checks.blocking_failures))
    reproduced_metrics["data.warnings"] = float(len(checks.warnings))
    if checks.adverse_rate is not None:
        reproduced_metrics["data.adverse_rate"] = checks.adverse_rate

    recorded_metrics = run.data.metrics
    rows = []
    for metric in sorted(set(recorded_metrics) | set(reproduced_metrics)):
        a, b = recorded_metrics.get(metric), reproduced_metrics.get(metric)
        rows.append(
            {
                "metric": metric,
                "recorded": a,
                "reproduced": b,
                "identical": _same(a, b),
                "difference": (b - a) if a is not None and b is not None else None,
            }
        )
    identities = pd.DataFrame(
        [
            {"item": "spec_sha256", "recorded": tags.get("spec_sha256"), "reproduced": spec_sha256(spec)},
            {"item": "data_sha256", "recorded": tags.get("data_sha256"), "reproduced": data.sha256},
            {"item": "split_sha256", "recorded": tags.get("split_sha256"), "reproduced": result.split.sha256},
            {"item": "model_family", "recorded": tags.get("model_family"), "reproduced": result.chosen},
        ]
    )
    identities["identical"] = identities["recorded"] == identities["reproduced"]

    registered = load_model(name, record.version)
    recorded_scores = registered.predict_proba(result.validation_inputs)[:, 1]
    difference = float(np.max(np.abs(recorded_scores - result.validation_scores())))

    notes = []
    git = git_state()
    if tags.get("git_sha") not in (None, git.sha):
        notes.append(f"code: trained at git {tags.get('git_sha')}, reproduced at {git.sha}")
    if tags.get("environment_sha256") not in (None, environment_sha256()):
        notes.append("environment: installed packages differ from the recorded lock (environment/environment.lock.txt)")
    return ReproductionReport(
        name=name,
        version=int(record.version),
        metrics=pd.DataFrame(rows),
        identities=identities,
        max_prediction_difference=difference,
        n_predictions=len(recorded_scores),
        notes=notes,
    )


__all__ = ["ReproductionReport", "reproduce"]
