"""The retraining trigger: a monitoring alert becomes a reviewed challenger, never a silent retrain.

From a filed monitoring run, the labelled decisions of its most recent periods (model inputs as served, the
outcomes that arrived, the protected groups reported with them) are written once, hashed, to
``registry_store/monitoring/<model>/retraining/<stamp>/`` with a spec derived from the monitored version's
(same features, candidates and thresholds; this data set; groups read from their columns). The ordinary
training suite (data validation, training) then runs on it as a developer and registers a new version with
status ``development``; the version and its training run carry ``workbench.lineage.*`` tags naming the
monitoring run, the monitored version, the period window, the decision time range and the data hash. The
version then takes the ``@challenger`` alias, which the scoring server follows only once the version has
been validated and approved like any other.

Only decisions with an outcome are used: declined applicants whose outcome is never observed are not
inferred (no reject inference), which the validator should weigh when the approval rate is low.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import yaml
from mlflow import MlflowClient

from workbench.governance import GovernanceError, GovernanceService, User
from workbench.monitoring._decisions_and_outcomes import OutcomeStore, monitoring_dir
from workbench.monitoring._monitor import period_labels
from workbench.monitoring._record import alerts_text, read_monitoring_run
from workbench.monitoring._traffic import simulated_periods
from workbench.paths import project_root
from workbench.provenance import file_sha256
from workbench.registry import get_version, recorded_spec
from workbench.spec import ModelSpec, label_key, parse_spec, spec_to_dict

LINEAGE = "workbench.lineage."
DATA_FILE = "labelled_decisions.parquet"
#: labelled decisions whose outcome came without the protected groups are left out (and counted in the
#: lineage); beyond this share the window is refused, since fairness would be validated on a biased subset
MAX_SHARE_WITHOUT_GROUPS = 0.10
SPEC_FILE = "spec.yaml"


class RetrainingError(ValueError):
    """The retraining cannot start: the message names what is missing and how to supply it."""


@dataclass
class RetrainingData:
    """The labelled window written for retraining, and where it came from."""

    model: str
    parent_version: int
    monitoring_run_id: str
    periods: list[str]
    frame: pd.DataFrame
    folder: Path
    spec_path: Path
    data_path: Path
    data_sha256: str
    adverse: int
    excluded_without_groups: int = 0
    alerts: list[dict] = field(default_factory=list)

    def lineage(self) -> dict[str, str]:
        """The ``workbench.lineage.*`` tags for the training run and the registered version."""
        alerts = alerts_text(self.alerts, limit=20)
        times = pd.to_datetime(self.frame["decision_time"], utc=True)
        return {
            f"{LINEAGE}trigger": "monitoring",
            f"{LINEAGE}monitoring_run_id": self.monitoring_run_id,
            f"{LINEAGE}parent_version": str(self.parent_version),
            f"{LINEAGE}window_first_period": self.periods[0],
            f"{LINEAGE}window_last_period": self.periods[-1],
            f"{LINEAGE}window_periods": str(len(self.periods)),
            f"{LINEAGE}window_start": times.min().isoformat(),
            f"{LINEAGE}window_end": times.max().isoformat(),
            f"{LINEAGE}decisions": str(len(self.frame)),
            f"{LINEAGE}adverse": str(self.adverse),
            f"{LINEAGE}excluded_without_groups": str(self.excluded_without_groups),
            f"{LINEAGE}data_path": str(self.data_path),
            f"{LINEAGE}data_sha256": self.data_sha256,
            f"{LINEAGE}alerts": alerts[:4000] or "(none)",
        }


@dataclass
class RetrainingResult:
    """The registered version, its lineage, and whether it holds ``@challenger``."""

    model: str
    version: int
    run_id: str
    lineage: dict[str, str]
    challenger: bool
    note: str = ""
    notebooks: list[Path] = field(default_factory=list)


def _decisions_with_outcomes(model: str, features: list[str], outcomes: pd.DataFrame) -> pd.DataFrame:
    """Exported answered decisions that have an outcome: id, time, inputs as served, outcome and groups."""
    folder = monitoring_dir(model) / "decisions"
    if not any(folder.glob("*.parquet")):
        raise RetrainingError(f"no decisions of {model} are exported yet; run `workbench monitor {model}` first")
    if not len(outcomes):
        raise RetrainingError(f"no outcomes of {model} are recorded; import them with `workbench outcomes import`")
    dataset = ds.dataset(str(folder), format="parquet")
    known = pa.array(outcomes["decision_id"].astype(str))
    table = dataset.to_table(columns=["id", "time", "version", *features], filter=pc.is_in(ds.field("id"), known))
    frame = table.to_pandas()
    return frame.merge(outcomes, left_on="id", right_on="decision_id", how="inner").drop(columns="decision_id")


def _target_labels(spec: ModelSpec) -> tuple[object, object]:
    """(adverse, other) target values as the monitored version's data writes them."""
    from workbench.data import load_model_data

    given = spec.target.adverse_value
    adverse = given[0] if isinstance(given, list) else given
    try:
        values = load_model_data(spec).frame[spec.target.column].dropna().unique().tolist()
    except Exception:  # the development data may be gone; 1 / 0 then carry the meaning
        return 1, 0
    others = [v for v in values if label_key(v) not in spec.target.adverse_labels]
    return (adverse, others[0]) if others else (1, 0)


def _derived_spec(spec: ModelSpec, data_path: Path, sha256: str) -> dict:
    """The monitored version's spec on the labelled window: this data set, groups from their own columns."""
    data = spec_to_dict(spec)
    root = project_root()
    shown = data_path.relative_to(root) if data_path.is_relative_to(root) else data_path
    data["dataset"] = {"path": str(shown), "format": "parquet", "sha256": sha256}
    for attribute in data["protected_attributes"]:
        attribute["column"] = attribute["name"]
        attribute["band"] = None
    if data["split"].get("method") == "out_of_time":
        data["split"]["date_column"] = "decision_time"
    return data


def prepare_retraining_data(
    client: MlflowClient,
    monitoring_run_id: str,
    *,
    periods: int = 6,
    outcomes: OutcomeStore | None = None,
) -> RetrainingData:
    """Write the labelled decisions of the monitoring run's last ``periods`` labelled periods, and their spec.

    Outcomes reported without the protected groups are left out and counted. Raises
    :class:`RetrainingError` naming what is missing (no outcomes, more than 10% of the window without groups,
    fewer adverse outcomes than the spec's ``thresholds.min_adverse_count``).
    """
    if periods < 1:
        raise RetrainingError(f"periods: must be at least 1, got {periods}")
    summary = read_monitoring_run(client, monitoring_run_id)
    model, parent = summary["model"], int(summary["version"])
    spec = recorded_spec(client, get_version(client, model, parent).run_id)
    features = list(spec.features.all)
    frame = _decisions_with_outcomes(model, features, (outcomes or OutcomeStore()).frame(model))
    if summary.get("period_source") == "simulated":
        try:
            period_of = simulated_periods(model)
        except LookupError as error:
            raise RetrainingError(f"the monitoring run used simulated periods: {error}") from None
        frame["period"] = frame["id"].map(period_of)
        frame = frame[frame["period"].notna()]
    else:
        frame["period"] = period_labels(pa.array(frame["time"]), summary["period"])
    monitored = {str(p["period"]) for p in summary.get("periods_table", [])}
    frame = frame[frame["period"].astype(str).isin(monitored)] if monitored else frame
    if frame.empty:
        raise RetrainingError(f"none of the periods of monitoring run {monitoring_run_id} has a labelled decision")
    window = sorted(frame["period"].astype(str).unique())[-periods:]
    frame = frame[frame["period"].astype(str).isin(window)].sort_values("time").reset_index(drop=True)
    groups = [a.name for a in spec.protected_attributes]
    lacking = pd.Series(False, index=frame.index)
    for group in groups:
        lacking |= frame[group].isna() if group in frame else True
    if lacking.mean() > MAX_SHARE_WITHOUT_GROUPS:
        raise RetrainingError(
            f"protected groups: {int(lacking.sum())} of {len(frame)} labelled decisions lack one of "
            f"{', '.join(groups)}; fairness cannot be validated without them, so import outcomes with those columns"
        )
    excluded = int(lacking.sum())
    frame = frame[~lacking]
    adverse = int(frame["outcome"].sum())
    if adverse < spec.thresholds.min_adverse_count:
        raise RetrainingError(
            f"periods: the last {len(window)} labelled period(s) hold {adverse} adverse outcome(s), fewer than "
            f"thresholds.min_adverse_count = {spec.thresholds.min_adverse_count}; widen the window or wait for outcomes"
        )
    adverse_label, other_label = _target_labels(spec)
    data = pd.DataFrame(
        {
            "decision_id": frame["id"].astype(str),
            "decision_time": pd.to_datetime(frame["time"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "period": frame["period"].astype(str),
            "served_version": frame["version"].astype(int),
        }
    )
    for name in features:
        data[name] = frame[name]
    data[spec.target.column] = frame["outcome"].map({1: adverse_label, 0: other_label})
    for group in groups:
        data[group] = frame[group].astype(str)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = monitoring_dir(model) / "retraining" / f"{stamp}-{monitoring_run_id[:8]}"
    folder.mkdir(parents=True, exist_ok=False)  # never overwrite data a version may be pinned to
    data_path = folder / DATA_FILE
    data.to_parquet(data_path, index=False)
    sha256 = file_sha256(data_path)
    spec_path = folder / SPEC_FILE
    derived = _derived_spec(spec, data_path, sha256)
    parse_spec(derived, str(spec_path))  # the derived spec must itself be valid before anything runs
    spec_path.write_text(
        f"# Retraining of {model} v{parent} after monitoring run {monitoring_run_id}, "
        f"periods {window[0]}..{window[-1]}\n" + yaml.safe_dump(derived, sort_keys=False),
        "utf-8",
    )
    return RetrainingData(
        model,
        parent,
        monitoring_run_id,
        window,
        data,
        folder,
        spec_path,
        data_path,
        sha256,
        adverse,
        excluded,
        summary.get("alerts", []),
    )


def retrain(
    client: MlflowClient,
    monitoring_run_id: str,
    *,
    developer: User,
    service: GovernanceService,
    periods: int = 6,
    outcomes: OutcomeStore | None = None,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> RetrainingResult:
    """Train on the monitoring run's recent labelled window and register the result as ``@challenger``.

    The training is the ordinary suite (notebooks 01 and 02), run as ``developer``; lineage tags go on the
    training run before it starts (so a failed attempt is traceable too) and on the registered version.
    """
    from workbench.pipeline import run_suite

    if not developer.has("developer"):
        raise PermissionError(f"{developer.name} does not hold the developer role needed to retrain")
    data = prepare_retraining_data(client, monitoring_run_id, periods=periods, outcomes=outcomes)
    lineage = data.lineage()
    left_out = (
        f" ({data.excluded_without_groups} left out: no protected groups)" if data.excluded_without_groups else ""
    )
    echo(
        f"retraining {data.model} (monitored v{data.parent_version}) on {len(data.frame)} labelled decisions of "
        f"periods {data.periods[0]}..{data.periods[-1]}{left_out}; data {data.data_path}"
    )
    reason = (
        f"retrained after monitoring run {monitoring_run_id} on v{data.parent_version}'s labelled decisions of "
        f"periods {data.periods[0]}..{data.periods[-1]}"
    )
    suite = run_suite(data.spec_path, developer=developer, progress=progress, echo=echo, lineage=lineage, reason=reason)
    client.log_artifact(suite.run_id, str(data.data_path), "data")
    note = ""
    try:
        service.nominate_challenger(developer, data.model, suite.version, reason, details={"lineage": lineage})
        challenger = True
    except GovernanceError as refusal:
        challenger, note = False, str(refusal)
    return RetrainingResult(data.model, suite.version, suite.run_id, lineage, challenger, note, suite.notebooks)
