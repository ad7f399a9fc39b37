"""Writing what the data-validation and training notebooks produce into the version's MLflow run.

One run per pipeline execution holds the spec, data-validation results, candidates, the model and the
environment lock; the registered version points back to that run and carries the identifying hashes as tags.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import yaml
from mlflow import MlflowClient

from workbench.provenance import environment_lock, environment_sha256, git_state
from workbench.registry._lifecycle import STATUS_TAG, Status
from workbench.registry._tracking import configure, ensure_experiment
from workbench.registry._versions import model_sha256
from workbench.spec import ModelSpec, parse_spec, spec_sha256, spec_to_dict

if TYPE_CHECKING:  # types only: a command that reads the registry does not load the training stack
    from workbench.data import DataValidationResult
    from workbench.training import TrainingResult

SPEC_ARTIFACT = "spec/spec.json"

#: Types beyond skops' defaults that our own artefacts contain (tree node storage, numpy dtypes, the node arrays
#: of histogram gradient boosting). Artefacts are written only by this code and their sha256 is checked before
#: they are served.
SKOPS_TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]


def serving_requirements() -> list[str]:
    """Exact pins of what the artefact needs to load and score; stated, not inferred by a trial import."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def start_pipeline_run(spec: ModelSpec, *, developer: str, client: MlflowClient | None = None) -> str:
    """Open the run that one execution of the suite logs into; returns its id."""
    client = client or configure()
    experiment_id = ensure_experiment(client, spec.name)
    git = git_state()
    run = client.create_run(
        experiment_id,
        run_name=f"{spec.name}-suite",
        tags={
            "workbench.model": spec.name,
            "workbench.spec_sha256": spec_sha256(spec),
            "workbench.developer": developer,
            "workbench.git_sha": git.sha,
            "workbench.git_dirty": str(git.dirty).lower(),
            "mlflow.user": developer,
        },
    )
    return run.info.run_id


def log_spec(client: MlflowClient, run_id: str, spec: ModelSpec) -> None:
    """The validated spec as JSON (read back by reproduce) and YAML (for people)."""
    data = spec_to_dict(spec)
    with tempfile.TemporaryDirectory() as folder:
        _write(Path(folder), "spec.json", json.dumps(data, indent=2, sort_keys=True))
        _write(Path(folder), "spec.yaml", yaml.safe_dump(data, sort_keys=False))
        client.log_artifacts(run_id, folder, "spec")


def log_data_validation(
    result: DataValidationResult, spec: ModelSpec, run_id: str, client: MlflowClient | None = None
) -> None:
    """Data-validation results: JSON with every table, headline metrics and the data hash as tags."""
    client = client or configure()
    log_spec(client, run_id, spec)
    client.set_tag(run_id, "workbench.data_sha256", result.data_sha256)
    client.set_tag(run_id, "workbench.data_validation", "failed" if result.blocking_failures else "passed")
    metrics = {
        "data.n_rows": float(result.n_rows),
        "data.blocking_failures": float(len(result.blocking_failures)),
        "data.warnings": float(len(result.warnings)),
    }
    if result.adverse_rate is not None:
        metrics["data.adverse_rate"] = result.adverse_rate
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    with tempfile.TemporaryDirectory() as folder:
        _write(Path(folder), "data_validation.json", json.dumps(result.to_dict(), indent=2, default=str))
        client.log_artifacts(run_id, folder, "data_validation")


def _training_params(result: TrainingResult) -> dict[str, Any]:
    spec = result.spec
    return {
        "dataset": spec.dataset.name or spec.dataset.path,
        "target": spec.target.column,
        "adverse_value": spec.target.adverse_value,
        "n_features": len(spec.features.all),
        "split.method": spec.split.method,
        "split.seed": spec.split.seed,
        "split.validation_fraction": spec.split.validation_fraction,
        "candidates": ",".join(c.family for c in spec.candidates),
        "cv_folds": spec.selection.cv_folds,
        "chosen_family": result.chosen,
        "decision.cutoff": spec.decision.cutoff,
        "features.dropped_as_aliased": ",".join(a.feature for a in result.aliased if a.kind == "aliased") or "none",
    }


def register_training(
    result: TrainingResult, run_id: str, *, developer: str, client: MlflowClient | None = None
) -> int:
    """Log the chosen model with its evidence to the run and register it as a ``development`` version.

    Returns the new version number. The version's tags carry the spec, data, model, split and environment
    hashes, the git sha, the seed and who developed it, so it can be reproduced and governed.
    """
    client = client or configure()
    spec = result.spec
    log_spec(client, run_id, spec)
    for key, value in _training_params(result).items():
        client.log_param(run_id, key, value)
    for key, value in result.metrics.items():
        client.log_metric(run_id, key, value)
    lock = environment_lock()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _write(root, "candidates.csv", result.candidates_table().to_csv(index=False))
        _write(root, "selection.txt", result.selection_reason + "\n")
        if result.coefficients is not None:
            _write(root, "scorecard_coefficients.csv", result.coefficients.to_csv(index=False))
        _write(
            root,
            "split.json",
            json.dumps(
                {
                    "method": result.split.method,
                    "sha256": result.split.sha256,
                    "development": result.split.development.tolist(),
                    "validation": result.split.validation.tolist(),
                }
            ),
        )
        client.log_artifacts(run_id, folder, "training")
        _write(root / "env", "environment.lock.txt", lock)
        client.log_artifacts(run_id, str(root / "env"), "environment")

    inputs = result.validation_inputs
    from mlflow.models import infer_signature

    signature = infer_signature(inputs, result.model.predict_proba(inputs))
    with mlflow.start_run(run_id=run_id):
        info = mlflow.sklearn.log_model(
            result.model,
            name="model",
            signature=signature,
            input_example=inputs.head(5),
            pyfunc_predict_fn="predict_proba",
            registered_model_name=spec.name,
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pip_requirements=serving_requirements(),
        )
    version = info.registered_model_version
    git = git_state()
    tags = {
        STATUS_TAG: Status.DEVELOPMENT,
        "developed_by": developer,
        "spec_sha256": spec_sha256(spec),
        "data_sha256": result.data_sha256,
        "model_sha256": model_sha256(spec.name, version),
        "split_sha256": result.split.sha256,
        "seed": str(spec.split.seed),
        "model_family": result.chosen,
        "model_kind": spec.kind,
        "git_sha": git.sha,
        "git_dirty": str(git.dirty).lower(),
        "environment_sha256": environment_sha256(),
        "risk_tier": str(spec.risk_tier),
        "owner": spec.owner,
        "training_run_id": run_id,
    }
    for key, value in tags.items():
        client.set_model_version_tag(spec.name, str(version), key, value)
    client.update_registered_model(spec.name, description=f"{spec.title}. {spec.purpose}")
    client.update_model_version(spec.name, str(version), description=f"{result.chosen}: {result.selection_reason}")
    return int(version)


def recorded_spec(client: MlflowClient, run_id: str) -> ModelSpec:
    """The spec exactly as logged on a run (the working tree's copy may have moved on since)."""
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run_id, SPEC_ARTIFACT, folder)
        return parse_spec(json.loads(Path(path).read_text("utf-8")), f"{SPEC_ARTIFACT} of run {run_id}")
