"""Wall time and peak memory (resident set of a command and all its children) of one command."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil

DEMO_PASSWORD = "demo-password"


def run_measured(command: list[str], **kwargs) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run ``command``; returns (seconds, peak MiB summed over its process tree, completed process)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    peak = 0.0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                total = 0
                for member in tree:
                    try:
                        total += member.memory_info().rss
                    except psutil.Error:
                        pass
                peak = max(peak, total / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    stdout, stderr = process.communicate()
    done.set()
    watcher.join()
    completed = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stdout}\n{stderr}")
    return time.perf_counter() - started, peak, completed


def new_project() -> tuple[Path, dict[str, str]]:
    """An empty project (registry, reports, demonstration users) and the environment to run the CLI in it."""
    from workbench.governance import DEMO_USERS, UserStore

    root = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    (root / "registry_store").mkdir()
    (root / "reports").mkdir()
    users = UserStore(root / "registry_store" / "governance" / "users.json")
    for name, roles in DEMO_USERS.items():
        users.add(name, roles, DEMO_PASSWORD)
    env = {
        k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "WORKBENCH_USERS", "WORKBENCH_AUDIT"}
    }
    env["WORKBENCH_HOME"] = str(root)
    env["WORKBENCH_PASSWORD"] = DEMO_PASSWORD
    return root, env
