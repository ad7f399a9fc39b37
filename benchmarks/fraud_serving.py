"""Online fetch plus scoring of one card transaction: p50 / p99 at concurrency 1 and 16, decisions durable.

    python benchmarks/fraud_serving.py [--duration 10] [--workers 2] [--concurrency 1 16] [--rounds 3] [--rows 60000]

One ``workbench serve`` (SQLite decision store, ``--workers`` uvicorn workers) serves the card-fraud model and the
German credit model side by side, each an approved @champion in a fresh project. The card-fraud version is
trained on ``--rows`` synthetic transactions of the shipped spec and its Feast online store (SQLite) is
materialised to the last one. Every fraud request carries a card, a merchant, a time and the transaction's own
fields; the server reads the card's and the merchant's stored values from Feast's online store, finishes the
features, scores through the compiled path, records the decision with its whole feature vector (SQLite
``synchronous=FULL``) and only then answers. wrk (Debian's ``wrk``) drives ``/models/card_fraud/score`` and, for
comparison on the same server, ``/models/german_credit/score``. A round starts the server afresh and measures
every route at every concurrency; rounds repeat that, and each cell reports the median over rounds and the
range. The decision store is counted after each measurement: records must equal answered requests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import new_project  # noqa: E402
from serving_throughput import _port, _start, _stop, _wait_ready, _wrk  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _fraud_spec(rows: int):
    import yaml

    from workbench.spec import parse_spec

    data = yaml.safe_load((ROOT / "notebooks" / "params" / "card_fraud.yaml").read_text("utf-8"))
    data["dataset"]["rows"] = rows
    return parse_spec(data)


def _fraud_champion(project: Path, rows: int) -> tuple[dict, str]:
    """Train and govern the card-fraud spec on ``rows`` transactions, materialise its store; returns a request."""

    from workbench.data import load_model_data
    from workbench.features import materialize
    from workbench.governance import GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail
    from workbench.registry import configure, register_training, start_pipeline_run
    from workbench.training import train

    spec = _fraud_spec(rows)
    client = configure(f"sqlite:///{project / 'registry_store' / 'mlflow.db'}")
    users = UserStore(project / "registry_store" / "governance" / "users.json")
    service = GovernanceService(
        MlflowVersionStore(client), AuditTrail(project / "registry_store" / "governance" / "audit.jsonl")
    )
    result = train(load_model_data(spec), spec)
    run_id = start_pipeline_run(result.spec, developer="priya", client=client)
    version = register_training(result, run_id, developer="priya", client=client)
    service.register(users.get("priya"), spec.name, version)
    service.record_validation(users.get("marco"), spec.name, version, "validated", "benchmark", {"high": 0})
    service.approve(users.get("helen"), spec.name, version, "benchmark")
    service.promote(users.get("sam"), spec.name, version, "champion", "benchmark")
    materialize(result.spec)
    return _fraud_request(spec), f"card_fraud/{version}"


def _fraud_request(spec) -> dict:
    """A transaction of the busiest card, twenty minutes after its last one."""
    import pandas as pd

    from workbench.data import resolve_data_path
    from workbench.features import prepare_events

    path, _ = resolve_data_path(spec)
    events = prepare_events(spec, pd.read_parquet(path))
    busiest = events["card_id"].value_counts().index[0]
    last = events[events["card_id"] == busiest].iloc[-1]
    request = {
        "card_id": int(last["card_id"]),
        "merchant_id": int(last["merchant_id"]),
        "event_time": (last["event_time"] + pd.Timedelta(minutes=20)).isoformat(),
        "amount": 250.0,
        "new_device": 0,
        "channel": str(last["channel"]),
        "category": str(last["category"]),
    }
    return request


def _post(port: int, name: str, body: dict, token: str) -> str:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/models/{name}/score",
        data=json.dumps({"applications": [body]}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=60_000, help="synthetic transactions the fraud model learns on")
    parser.add_argument("--project", help="a project an earlier run prepared (printed at its end)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    from serving_throughput import _governed_champion

    if args.project:  # a project an earlier run prepared: measure again without training
        from workbench.governance import UserStore

        project = Path(args.project)
        env = {**os.environ, "WORKBENCH_HOME": str(project)}
        os.environ["WORKBENCH_HOME"] = str(project)
        german = "german_credit"
        token = UserStore(project / "registry_store" / "governance" / "users.json").issue_token("los", "benchmark")
        fraud_request, fraud_version = _fraud_request(_fraud_spec(args.rows)), "card_fraud"
    else:
        project, env = new_project()
        german, _version, token = _governed_champion(project)  # sets WORKBENCH_HOME and the registry
        fraud_request, fraud_version = _fraud_champion(project, args.rows)
    env["PYTHONPATH"] = str(ROOT)  # the server runs this checkout's package
    from workbench.data import load_model_data
    from workbench.spec import load_spec
    from workbench.training import model_inputs

    german_spec = load_spec(ROOT / "notebooks" / "params" / "german_credit.yaml")
    row = model_inputs(load_model_data(german_spec).frame, german_spec).iloc[1].to_dict()
    row = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in row.items()}
    routes = {"card_fraud": fraud_request, german: row}
    print(f"served: {fraud_version} and {german} from {project}; fraud request {fraud_request}", flush=True)

    from workbench.serving import open_decision_store

    store_url = f"sqlite:///{project / 'registry_store' / 'serving' / 'decisions.db'}"
    serve = [sys.executable, "-m", "workbench.cli", "serve", "--workers", str(args.workers), "--refresh", "2"]
    results: dict[tuple[str, int], list[dict]] = {}
    decisions = open_decision_store(store_url)
    try:
        for round_ in range(args.rounds):
            port = _port()
            server = _start([*serve, "--port", str(port), "--decision-store", store_url], env, project)
            try:
                _wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", server)
                if round_ == 0:
                    print("one answer:", _post(port, "card_fraud", fraud_request, token), flush=True)
                order = list(routes) if round_ % 2 == 0 else list(reversed(routes))
                for name in order:
                    for connections in args.concurrency:
                        before = decisions.count(name)
                        url = f"http://127.0.0.1:{port}/models/{name}/score"
                        measured = _wrk(url, {"applications": [routes[name]]}, token, connections, args.duration)
                        measured["recorded"] = decisions.count(name) - before
                        results.setdefault((name, connections), []).append(measured)
                        print(
                            f"round {round_ + 1} {name} c={connections}: {measured['rps']:,.0f} requests/s, "
                            f"p50 {measured['p50_ms']:.2f} ms, p99 {measured['p99_ms']:.2f} ms, "
                            f"non-2xx {measured['non_2xx']}",
                            flush=True,
                        )
            finally:
                _stop(server)
    finally:
        decisions.close()
    print(
        "\n| model | concurrency | requests/s (median, range) | p50 ms (median, range) | p99 ms (median, range) "
        "| records / answered |"
    )
    print("|---|---|---|---|---|---|")
    for (name, connections), cells in results.items():

        def cell(key: str, digits: str, cells: list[dict] = cells) -> str:
            values = [c[key] for c in cells]
            return f"{median(values):{digits}} ({min(values):{digits}}-{max(values):{digits}})"

        recorded = sum(c["recorded"] for c in cells)
        answered = sum(c["requests"] for c in cells)
        print(
            f"| {name} | {connections} | {cell('rps', ',.0f')} | {cell('p50_ms', '.2f')} | {cell('p99_ms', '.2f')} "
            f"| {recorded:,} / {answered:,} |"
        )
    non_2xx = sum(c["non_2xx"] for cells in results.values() for c in cells)
    print(f"non-2xx answers over all runs: {non_2xx}; project {project}")
    os.environ.pop("WORKBENCH_HOME", None)


if __name__ == "__main__":
    main()
