"""The test fixtures' project copies: each reads and writes only its own files, never its template's."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from conftest import copy_project, in_process_server

MODEL = "german_credit"

#: every column in which MLflow 3's SQLite store records where artefacts are
ARTEFACT_LOCATIONS = {
    "experiments": "artifact_location",
    "runs": "artifact_uri",
    "logged_models": "artifact_location",
    "model_versions": "storage_location",
}


def _database(project: Path) -> Path:
    return project / "registry_store" / "mlflow.db"


def _locations(project: Path) -> list[str]:
    """Every artefact location the project's registry records (the Default experiment, which MLflow places
    under the working directory and which holds no run, left out)."""
    with sqlite3.connect(f"file:{_database(project)}?mode=ro", uri=True) as connection:
        assert connection.execute("SELECT COUNT(*) FROM runs WHERE experiment_id = 0").fetchone()[0] == 0
        found = [
            value
            for table, column in ARTEFACT_LOCATIONS.items()
            for (value,) in connection.execute(
                f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"
                + (" AND experiment_id != 0" if table == "experiments" else "")
            )
        ]
    connection.close()
    return found


def _dump(project: Path) -> str:
    with sqlite3.connect(f"file:{_database(project)}?mode=ro", uri=True) as connection:
        text = "\n".join(connection.iterdump())
    connection.close()
    return text


def _champion(project: Path) -> int:
    from mlflow import MlflowClient

    uri = f"sqlite:///{_database(project)}"
    return int(MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias(MODEL, "champion").version)


def test_a_copy_is_independent_of_its_template_and_of_other_copies(served_template, tmp_path):
    from workbench.governance import GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail

    template = served_template.project
    first = copy_project(template, tmp_path / "first")
    second = copy_project(template, tmp_path / "second")

    # every artefact location of the copy lies inside the copy; the template is named nowhere in its registry
    locations = _locations(first)
    assert len(locations) >= 1 + 2 + 2 + 2  # the model's experiment, two runs, two logged models, two versions
    for location in locations:
        assert location.startswith(f"file://{first}/"), location
        assert Path(location.removeprefix("file://")).is_dir(), location
    assert str(template) not in _dump(first)
    assert all(location.startswith(f"file://{template}/") for location in _locations(template))

    # the champion changed in one copy stays where it was in the template and in the other copy
    assert _champion(first) == _champion(second) == _champion(template) == served_template.champion
    governance = first / "registry_store" / "governance"
    with in_process_server(first) as (_server, _app, client, _decisions):
        service = GovernanceService(MlflowVersionStore(client), AuditTrail(governance / "audit.jsonl"))
        sam = UserStore(governance / "users.json").get("sam")
        service.promote(sam, MODEL, served_template.challenger, "champion", "the copy's own change")
    assert _champion(first) == served_template.challenger
    assert _champion(second) == _champion(template) == served_template.champion
    assert "the copy's own change" in (governance / "audit.jsonl").read_text()
    for other in (second, template):
        assert "the copy's own change" not in (other / "registry_store" / "governance" / "audit.jsonl").read_text()

    # a copy of that copy serves its models (their bytes checked against the approved hashes) once the copy it
    # came from is gone: it reads nothing outside itself
    third = copy_project(first, tmp_path / "third")
    shutil.rmtree(first)
    with in_process_server(third) as (server, _app, _client, _decisions):
        assert server.champion.version == served_template.challenger
        assert server.champion.model_sha256 == _approved_sha256(third, served_template.challenger)
    assert all(location.startswith(f"file://{third}/") for location in _locations(third))


def _approved_sha256(project: Path, version: int) -> str:
    """The approved model hash recorded on a version, read straight from the project's SQLite registry."""
    with sqlite3.connect(f"file:{_database(project)}?mode=ro", uri=True) as connection:
        (value,) = connection.execute(
            "SELECT value FROM model_version_tags WHERE name = ? AND version = ? AND key = 'approved_model_sha256'",
            (MODEL, version),
        ).fetchone()
    connection.close()
    return value
