"""Prometheus metrics of the scoring server (aggregated over worker processes when there are several).

With several uvicorn workers, ``workbench serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker starts,
so each worker writes its samples to shared files and ``/metrics`` adds them up.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

REQUESTS = Counter("workbench_requests_total", "Requests by endpoint and HTTP status", ["endpoint", "status"])
DECISIONS = Counter(
    "workbench_decisions_total",
    "Recorded decisions by model, version, route and decision",
    ["model", "version", "route", "decision"],
)
LATENCY = Histogram(
    "workbench_request_seconds",
    "Time from request received to response ready, by endpoint",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ROLLBACKS = Counter("workbench_canary_rollbacks_total", "Canaries rolled back automatically")
CHAMPION = Gauge(
    "workbench_champion_version", "Version serving as champion, by model", ["model"], multiprocess_mode="max"
)


def _multiprocess() -> bool:
    """Whether this process's metrics are kept in shared files (the choice prometheus_client made at import).

    Decided by prometheus_client's value class, not by the environment variable now: a library imported later
    may set ``PROMETHEUS_MULTIPROC_DIR`` for its own use (Feast's ``feast.metrics`` does, on first use of the
    feature store), and reading that directory would then show none of this process's in-memory samples.
    """
    return values.ValueClass is not values.MutexValue


def render() -> tuple[bytes, str]:
    """The exposition text, from every worker when running multi-process."""
    if _multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


_request_children: dict[tuple[str, int], tuple] = {}
_decision_children: dict[tuple[str, int, str, str], object] = {}


def count_request(endpoint: str, status: int, seconds: float) -> None:
    """One answered request (label children cached: the lookup costs more than the increment)."""
    children = _request_children.get((endpoint, status))
    if children is None:
        children = _request_children[(endpoint, status)] = (
            REQUESTS.labels(endpoint, str(status)),
            LATENCY.labels(endpoint),
        )
    children[0].inc()
    children[1].observe(seconds)


def count_decision(model: str, version: int, route: str, decision: str) -> None:
    """One recorded decision."""
    key = (model, version, route, decision)
    child = _decision_children.get(key)
    if child is None:
        child = _decision_children[key] = DECISIONS.labels(model, str(version), route, decision)
    child.inc()
