"""Where the workbench keeps things: the project root, the embedded registry and generated reports.

The project root is ``WORKBENCH_HOME`` if set, otherwise the nearest folder at or above the working
directory that holds ``registry_store/``, otherwise the working directory. That lets the CLI and a
notebook opened from ``notebooks/`` find the same registry.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The folder that holds ``registry_store/`` and ``reports/``."""
    home = os.environ.get("WORKBENCH_HOME")
    if home:
        return Path(home).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "registry_store").is_dir():
            return folder
    return here


def registry_store() -> Path:
    """The embedded MLflow backend folder (SQLite database and artefacts)."""
    return project_root() / "registry_store"


def reports_root() -> Path:
    """Where generated notebooks and documents go, one folder per model version."""
    return Path(os.environ.get("WORKBENCH_REPORTS", project_root() / "reports")).expanduser().resolve()


def version_reports_dir(model_name: str, version: int | str) -> Path:
    """``reports/<model>/v<version>/``."""
    return reports_root() / model_name / f"v{version}"
