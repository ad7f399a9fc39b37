"""Milliseconds per governed action: a validator's finding through the governance service, on the embedded
MLflow registry (SQLite) and on the in-memory store (with ``--postgres`` also with the trail in PostgreSQL),
timed over many actions on a fresh project.

Runs against whichever ``workbench`` is first on ``PYTHONPATH`` (it uses only APIs every version has), so the
same command measures the keyed, locked, append-then-apply transition and the one before it:

    PYTHONPATH=. python benchmarks/governed_action.py [--postgres]
    PYTHONPATH=/path/to/older/checkout python benchmarks/governed_action.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ACTIONS = int(os.environ.get("ACTIONS", "200"))


def _time(service, user, name: str) -> list[float]:
    timings = []
    for i in range(ACTIONS):
        started = time.perf_counter()
        service.add_finding(user, name, 1, "low", f"note {i}", "fix it")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def in_memory(folder: Path) -> list[float]:
    from workbench.governance import AuditTrail, GovernanceService, InMemoryVersionStore, User

    store = InMemoryVersionStore()
    store.add("m", 1, {"status": "development", "developed_by": "dev", "model_sha256": "a" * 64}, "a" * 64)
    service = GovernanceService(store, AuditTrail(folder / "registry_store" / "governance" / "audit.jsonl"))
    return _time(service, User("val", ["validator"], "", ""), "m")


def in_memory_postgres(folder: Path) -> list[float]:
    """The in-memory store with the trail in PostgreSQL (the tests' server: Debian's, in a temporary directory)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from _postgres import PostgresCluster

    from workbench.governance import AuditTrail, GovernanceService, InMemoryVersionStore, User
    from workbench.governance._trail_postgres import PostgresTrail

    cluster = PostgresCluster()
    try:
        store = InMemoryVersionStore()
        store.add("m", 1, {"status": "development", "developed_by": "dev", "model_sha256": "a" * 64}, "a" * 64)
        trail = PostgresTrail(cluster.database())
        service = GovernanceService(store, AuditTrail(folder / "audit.jsonl", storage=trail))
        timings = _time(service, User("val", ["validator"], "", ""), "m")
        trail.close()
        return timings
    finally:
        cluster.close()


def mlflow_registry(folder: Path) -> list[float]:
    from workbench.governance import AuditTrail, GovernanceService, MlflowVersionStore, User
    from workbench.registry import configure

    os.environ["WORKBENCH_HOME"] = str(folder)
    client = configure(f"sqlite:///{folder / 'registry_store' / 'mlflow.db'}")
    source = folder / "source"
    source.mkdir()
    (source / "model.txt").write_text("model")
    client.create_registered_model("m")
    client.create_model_version("m", source=str(source), tags={"status": "development", "developed_by": "dev"})
    service = GovernanceService(
        MlflowVersionStore(client), AuditTrail(folder / "registry_store" / "governance" / "audit.jsonl")
    )
    return _time(service, User("val", ["validator"], "", ""), "m")


def report(label: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    print(
        f"{label:<22} {len(timings)} actions: median {statistics.median(timings):6.1f} ms, "
        f"p90 {ordered[int(0.9 * len(ordered))]:6.1f} ms, mean {statistics.fmean(timings):6.1f} ms"
    )


if __name__ == "__main__":
    import workbench.governance

    print(f"workbench from {Path(workbench.governance.__file__).parent.parent.parent}; python {sys.version.split()[0]}")
    cases = [("in-memory store", in_memory), ("MLflow registry (SQLite)", mlflow_registry)]
    if "--postgres" in sys.argv:  # only where the trail's PostgreSQL store exists
        cases.insert(1, ("in-memory, trail in PostgreSQL", in_memory_postgres))
    for label, measure in cases:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "registry_store").mkdir()
            report(label, measure(Path(folder)))
