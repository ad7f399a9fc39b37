"""Where an artefact came from: content hashes, the code's git sha and the exact environment.

Every artefact the workbench produces names these so that a reviewer can tell, years later, whether two
results came from the same model, data, spec, code and packages.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in chunks so large data sets do not need to fit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def directory_sha256(path: str | Path) -> str:
    """sha256 over every file below ``path``: relative names and contents, in sorted order.

    Renaming, adding, removing or editing any file changes it; the directory's own location does not.
    """
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(file.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(file_sha256(file).encode("ascii") + b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class GitState:
    """The commit the code came from and whether the working tree had uncommitted changes."""

    sha: str
    dirty: bool


def git_state(directory: str | Path | None = None) -> GitState:
    """The git commit of ``directory`` (default: the package's own source tree); 'unknown' outside git."""
    where = Path(directory) if directory else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return GitState(sha="unknown", dirty=False)
    return GitState(sha=sha, dirty=bool(status))


def environment_lock() -> str:
    """Every installed distribution with its exact version, plus the interpreter and platform."""
    packages = sorted(
        {(d.metadata["Name"] or "").lower(): d.version for d in metadata.distributions() if d.metadata["Name"]}.items()
    )
    header = [
        f"# python {platform.python_version()} ({sys.implementation.name})",
        f"# platform {platform.platform()}",
    ]
    return "\n".join(header + [f"{name}=={version}" for name, version in packages]) + "\n"


def environment_sha256() -> str:
    """A short identity of the environment lock."""
    return hashlib.sha256(environment_lock().encode("utf-8")).hexdigest()
