"""The MLflow registry as system of record: store, lifecycle status, versions and training records."""

from workbench.registry._lifecycle import SERVABLE_STATUSES, STATUS_TAG, STATUSES, Status
from workbench.registry._recorded import (
    ArtefactChangedError,
    RecordedSamples,
    RecordMismatchError,
    load_artefact,
    load_recorded_samples,
)
from workbench.registry._records import (
    SPEC_ARTIFACT,
    log_data_validation,
    log_spec,
    recorded_spec,
    register_training,
    start_pipeline_run,
)
from workbench.registry._tracking import RegistryUnavailableError, configure, ensure_experiment, tracking_uri
from workbench.registry._validation_runs import (
    EVIDENCE_FOLDERS,
    IndependenceError,
    conclude_validation,
    log_evidence,
    read_evidence,
    start_validation_run,
)
from workbench.registry._versions import (
    VersionNotFoundError,
    get_version,
    load_model,
    model_sha256,
    model_uri,
    version_for_run,
)

__all__ = [
    "RegistryUnavailableError",
    "ArtefactChangedError",
    "EVIDENCE_FOLDERS",
    "IndependenceError",
    "conclude_validation",
    "log_evidence",
    "read_evidence",
    "start_validation_run",
    "SERVABLE_STATUSES",
    "SPEC_ARTIFACT",
    "STATUSES",
    "STATUS_TAG",
    "RecordMismatchError",
    "RecordedSamples",
    "Status",
    "VersionNotFoundError",
    "configure",
    "ensure_experiment",
    "get_version",
    "load_artefact",
    "load_model",
    "load_recorded_samples",
    "log_data_validation",
    "log_spec",
    "model_sha256",
    "model_uri",
    "recorded_spec",
    "register_training",
    "start_pipeline_run",
    "tracking_uri",
    "version_for_run",
]
