"""Simulated production traffic through a running scoring server, with outcomes arriving periods later."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from workbench.monitoring._decisions_and_outcomes import OutcomeStore, monitoring_dir
from workbench.monitoring._drifting_population import Drift, ProductionSimulator
from workbench.registry import configure, recorded_spec
from workbench.serving import DecisionStore, open_decision_store

Post = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]
BATCH = 100


def http_post(url: str, token: str) -> Post:
    """A keep-alive JSON POST to the server at ``url`` with a bearer token."""
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        connection.request("POST", path, body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status not in (200, 422):
            raise RuntimeError(f"{path}: HTTP {response.status}: {payload[:300]!r}")
        return response.status, json.loads(payload)

    return post


def simulated_periods_file(model: str) -> Path:
    """Where ``simulate_traffic`` writes which simulated period each decision belongs to."""
    return monitoring_dir(model) / "simulated_periods.csv"


def simulated_periods(model: str) -> pd.Series:
    """Decision id -> simulated period label, as the last ``simulate_traffic`` wrote them."""
    path = simulated_periods_file(model)
    if not path.is_file():
        raise LookupError(f"no {path}; run `workbench simulate` first")
    table = pd.read_csv(path, dtype=str)
    return pd.Series(table["period"].to_numpy(), index=table["decision_id"])


def simulate_traffic(
    name: str,
    url: str = "",
    token: str = "",
    *,
    periods: int = 12,
    per_period: int = 500,
    drift_start: int = 6,
    amount_factor: float = 1.8,
    outcome_delay: int = 2,
    seed: int = 0,
    post: Post | None = None,
    decisions: DecisionStore | None = None,
    outcomes: OutcomeStore | None = None,
) -> dict[str, Any]:
    """Send ``periods`` x ``per_period`` applicants; record each period's outcomes ``outcome_delay`` periods later."""
    client = configure()
    champion = client.get_model_version_by_alias(name, "champion")
    spec = recorded_spec(client, champion.run_id)
    drift = (
        Drift(start_period=drift_start, ramp_periods=2, amount_factor=amount_factor, purpose_weights={"car (new)": 3.0})
        if drift_start >= 0
        else Drift()
    )
    simulator = ProductionSimulator(spec, drift, seed)
    post = post or http_post(url, token)
    decisions = decisions or open_decision_store()
    outcomes = outcomes or OutcomeStore()
    groups = tuple(a.name for a in spec.protected_attributes)
    mapping: list[tuple[str, str]] = []
    waiting: dict[int, list[dict[str, Any]]] = {}
    recorded = refused = 0
    for index in range(periods):
        period = simulator.period(index, per_period)
        ids: list[str | None] = []
        for start in range(0, per_period, BATCH):
            batch = period.applications[start : start + BATCH]
            status, answer = post("/score", {"applications": batch})
            if status == 200:
                ids += [d["decision_id"] for d in answer["decisions"]]
                continue
            for application in batch:  # a refused batch: find out which applications the contract refuses
                status, answer = post("/score", {"applications": [application]})
                ids.append(answer["decisions"][0]["decision_id"] if status == 200 else None)
                refused += status != 200
        mapping += [(decision_id, f"{index:03d}") for decision_id in ids if decision_id]
        rows = (
            pd.DataFrame({"decision_id": ids, "outcome": period.outcomes})
            .join(period.groups)
            .dropna(subset=["decision_id"])
        )
        waiting[index] = rows.to_dict("records")
        due = index - outcome_delay
        if due in waiting:
            recorded += outcomes.record(waiting.pop(due), decisions, 1, groups).recorded
    folder = monitoring_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    path = simulated_periods_file(name)
    pd.DataFrame(mapping, columns=["decision_id", "period"]).to_csv(path, index=False)
    return {"decisions": len(mapping), "refused": refused, "outcomes": recorded, "mapping": path}
