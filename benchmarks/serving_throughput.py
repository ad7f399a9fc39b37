"""Requests per second and p50 / p99 latency of single-application scoring, several servers, one load generator.

    python benchmarks/serving_throughput.py [--duration 10] [--workers 2] [--concurrency 1 16 64] [--rounds 3]
        [--mlserver-python /tmp/mlserver-venv/bin/python]

(a) ``workbench serve`` with the embedded SQLite decision store, and (ap) with PostgreSQL (Debian's server,
started in a temporary directory as the tests do): decision records durable before each answer, reason codes on;
(b) ``mlflow models serve`` on the same registered version (``--env-manager local``);
(m) MLServer (the inference server KServe uses) with its mlserver-mlflow runtime on the same registered version,
run from a virtual environment of its own (``--mlserver-python``; create it with ``python -m venv
/tmp/mlserver-venv && /tmp/mlserver-venv/bin/pip install mlserver==1.7.1 mlserver-mlflow==1.7.1 'uvloop==0.21.*'
scikit-learn==<ours> skops==<ours>``), so its pins never touch the project's; left out when that is absent;
(c) a bare FastAPI endpoint on the same uvicorn stack that parses the same JSON body and returns a constant.

Every server gets the same number of uvicorn workers; wrk (Debian's ``wrk``) sends the same body shape with a
POST script, on the same machine, one server at a time. A round measures every server once (each started
afresh); rounds repeat that, and the tables report per cell the median over rounds and, for the ratios and
(a)'s p99, the range: on a shared virtual machine two runs minutes apart differ by 20-30 %, so one round of
each server compares two different machines. The German credit version is the one the shipped spec
selects, taken through validation, approval and promotion in a fresh project. Requires ``wrk`` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import new_project  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BARE_APP = """
import json
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/score")
async def score(request: Request):
    json.loads(await request.body())
    return JSONResponse({"score": 0.5})
"""
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = io.open("{body}"):read("*a")
wrk.headers["Content-Type"] = "application/json"
{auth}
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _governed_champion(project: Path) -> tuple[str, int, str]:
    """Train, register, validate, approve and promote the shipped German spec; returns name, version, token."""
    from workbench.data import load_model_data
    from workbench.governance import GovernanceService, MlflowVersionStore, UserStore
    from workbench.governance._audit import AuditTrail
    from workbench.registry import configure, register_training, start_pipeline_run
    from workbench.spec import load_spec
    from workbench.training import train

    os.environ["WORKBENCH_HOME"] = str(project)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    spec = load_spec(ROOT / "notebooks" / "params" / "german_credit.yaml")
    client = configure(f"sqlite:///{project / 'registry_store' / 'mlflow.db'}")
    users = UserStore(project / "registry_store" / "governance" / "users.json")
    service = GovernanceService(
        MlflowVersionStore(client), AuditTrail(project / "registry_store" / "governance" / "audit.jsonl")
    )
    run_id = start_pipeline_run(spec, developer="priya", client=client)
    version = register_training(train(load_model_data(spec), spec), run_id, developer="priya", client=client)
    service.register(users.get("priya"), spec.name, version)
    service.record_validation(users.get("marco"), spec.name, version, "validated", "benchmark", {"high": 0})
    service.approve(users.get("helen"), spec.name, version, "benchmark")
    service.promote(users.get("sam"), spec.name, version, "champion", "benchmark")
    return spec.name, version, users.issue_token("los", "benchmark")


def _wait_ready(url: str, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited (see server.log): {' '.join(map(str, process.args))}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def _wrk(url: str, body: dict, token: str | None, connections: int, duration: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="wb-wrk-"))
    (folder / "body.json").write_text(json.dumps(body))
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    (folder / "post.lua").write_text(WRK_SCRIPT.format(body=folder / "body.json", auth=auth))
    threads = min(2, connections)
    command = [
        "wrk",
        "--timeout",
        "30s",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(folder / "post.lua"),
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    shutil.rmtree(folder)

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "requests": requests,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def _oip_body(row: dict) -> dict:
    """One application as Open Inference Protocol tensors, one per column (as MLServer's MLflow runtime reads)."""
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": key,
                "shape": [1],
                "datatype": "BYTES" if isinstance(value, str) else "FP64",  # the signature's columns are doubles
                "data": [value if isinstance(value, str) else float(value)],
                **({"parameters": {"content_type": "str"}} if isinstance(value, str) else {}),
            }
            for key, value in row.items()
        ],
    }


def _mlserver(project: Path, python: str, name: str, version: int, workers: int) -> list[str]:
    """MLServer's command and model folder: the registered version loaded from the registry by its runtime."""
    folder = project / "mlserver"
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / name / "model-settings.json").write_text(
        json.dumps(
            {
                "name": name,
                "implementation": "mlserver_mlflow.MLflowRuntime",
                "parameters": {"uri": f"models:/{name}/{version}"},
            }
        )
    )
    (folder / "workers.json").write_text(json.dumps({"parallel_workers": workers}))
    return [str(Path(python).parent / "mlserver"), "start", str(folder)]


def _mlserver_settings(project: Path, port: int) -> None:
    """MLServer's server settings: the port of this round, gRPC and metrics on ports of their own."""
    workers = json.loads((project / "mlserver" / "workers.json").read_text())["parallel_workers"]
    (project / "mlserver" / "settings.json").write_text(
        json.dumps(
            {
                "http_port": port,
                "grpc_port": _port(),
                "metrics_port": _port(),
                "parallel_workers": workers,
                "load_models_at_startup": True,
            }
        )
    )


def _start(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    # output to a file: a pipe nobody reads fills up and stalls a server that logs every request (mlflow does)
    log = open(cwd / "server.log", "a")  # noqa: SIM115  (lives as long as the server)
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers for every server")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--servers", nargs="+", default=["a", "ap", "b", "m", "c"], help="which of a, ap, b, m, c")
    parser.add_argument("--mlserver-python", default="/tmp/mlserver-venv/bin/python", help="MLServer's interpreter")
    parser.add_argument("--rounds", type=int, default=3, help="times every server is measured, interleaved")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    project, env = new_project()
    name, version, token = _governed_champion(project)
    from workbench.data import load_model_data
    from workbench.spec import load_spec
    from workbench.training import model_inputs  # noqa: E402  (after WORKBENCH_HOME is set)

    spec = load_spec(ROOT / "notebooks" / "params" / "german_credit.yaml")
    row = model_inputs(load_model_data(spec).frame, spec).iloc[1].to_dict()
    row = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in row.items()}
    (project / "bare_app.py").write_text(BARE_APP)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'registry_store' / 'mlflow.db'}"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # mlflow execs `uvicorn`
    uvicorn = [
        sys.executable,
        "-m",
        "uvicorn",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--log-level",
        "warning",
        "--no-access-log",
        "--workers",
        str(args.workers),
    ]
    sys.path.insert(0, str(ROOT / "tests"))
    from _postgres import PostgresCluster, missing_reason  # the tests' PostgreSQL: Debian's server, temporary

    postgres = None if missing_reason() or "ap" not in args.servers else PostgresCluster()
    stores = {"a": f"sqlite:///{project / 'registry_store' / 'serving' / 'decisions.db'}"}
    if postgres is not None:
        stores["ap"] = postgres.database()
    serve = [sys.executable, "-m", "workbench.cli", "serve", "--workers", str(args.workers), "--refresh", "2"]
    servers = {
        **{
            key: (
                label,
                "/score",
                {"applications": [row]},
                token,
                [*serve, "--decision-store", stores[key]],
                "/v2/health/ready",
            )
            for key, label in (
                ("a", "workbench serve, SQLite store"),
                ("ap", "workbench serve, PostgreSQL store"),
            )
            if key in stores
        },
        "b": (
            "mlflow models serve",
            "/invocations",
            {"dataframe_records": [row]},
            None,
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                f"models:/{name}/{version}",
                "--env-manager",
                "local",
                "-w",
                str(args.workers),
            ],
            "/health",
        ),
        "c": (
            "bare FastAPI (parse JSON, constant)",
            "/score",
            {"applications": [row]},
            None,
            [*uvicorn, "bare_app:app"],
            "/docs",
        ),
    }
    if Path(args.mlserver_python).exists():
        servers["m"] = (
            "MLServer (mlserver-mlflow)",
            f"/v2/models/{name}/infer",
            _oip_body(row),
            None,
            _mlserver(project, args.mlserver_python, name, version, args.workers),
            f"/v2/models/{name}/ready",
        )
    rounds: list[dict[str, dict[int, dict[str, float]]]] = []
    from workbench.serving import open_decision_store

    decisions = {key: open_decision_store(url) for key, url in stores.items()}
    servers = {key: value for key, value in servers.items() if key in args.servers}
    try:
        _measure_rounds(servers, decisions, env, project, args, rounds)
    finally:  # an interrupted run leaves no database server behind
        for store in decisions.values():
            store.close()
        if postgres is not None:
            postgres.close()
    _report(rounds, servers, args)


def _measure_rounds(servers: dict, decisions: dict, env: dict, project: Path, args, rounds: list) -> None:
    """Every server once per round, started afresh, at every concurrency; appends each round's results."""
    for number in range(1, args.rounds + 1):
        results: dict[str, dict[int, dict[str, float]]] = {}
        for key, (label, path, body, auth, command, ready) in servers.items():
            port = _port()
            if key == "m":
                _mlserver_settings(project, port)
            else:
                command = [*command, "--port", str(port)] if key != "b" else [*command, "-p", str(port)]
            process = _start(command, env, project)
            try:
                _wait_ready(f"http://127.0.0.1:{port}{ready}", process)
                url = f"http://127.0.0.1:{port}{path}"
                _wrk(url, body, auth, 4, 3)  # warm up every worker
                results[key] = {}
                for connections in args.concurrency:
                    before = decisions[key].count() if key in decisions else 0
                    measured = _wrk(url, body, auth, connections, args.duration)
                    if key in decisions:
                        measured["recorded"] = decisions[key].count() - before
                    results[key][connections] = measured
                    print(f"round {number} {label:38} c={connections:<3} {measured}", flush=True)
            finally:
                _stop(process)
        rounds.append(results)


def _report(rounds: list[dict], servers: dict, args: argparse.Namespace) -> None:
    """Medians over rounds per cell; ratios taken within each round, then their median and range."""
    print(
        f"\nworkers per server: {args.workers}; wrk {args.duration} s per cell; one application per request; "
        f"{len(rounds)} rounds, medians"
    )
    print("| concurrency | server | requests/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|---|")
    for connections in args.concurrency:
        for key, (label, *_rest) in servers.items():
            cells = [r[key][connections] for r in rounds]
            print(
                f"| {connections} | ({key}) {label} | {median([m['rps'] for m in cells]):.0f} "
                f"| {median([m['p50_ms'] for m in cells]):.2f} | {median([m['p99_ms'] for m in cells]):.2f} "
                f"| {sum(m['non_2xx'] for m in cells)} |"
            )
    peers = [p for p in ("b", "m", "c") if p in servers]
    heads = " | ".join(f"(a)/({p}) (range)" for p in peers)
    print(f"\n| concurrency | store | {heads} | (a) p99 ms (range) | records / answered |")
    print("|---|---|" + "---|" * len(peers) + "---|---|")
    for connections in args.concurrency:
        for key, store in (("a", "SQLite"), ("ap", "PostgreSQL")):
            if key not in servers:
                continue
            ratios = []
            for peer in peers:
                values = [r[key][connections]["rps"] / max(r[peer][connections]["rps"], 1e-9) for r in rounds]
                ratios.append(f"{median(values):.1f} ({min(values):.1f}-{max(values):.1f})")
            p99 = [r[key][connections]["p99_ms"] for r in rounds]
            recorded = sum(r[key][connections]["recorded"] for r in rounds)
            answered = sum(r[key][connections]["requests"] for r in rounds)
            print(
                f"| {connections} | {store} | {' | '.join(ratios)} "
                f"| {median(p99):.2f} ({min(p99):.2f}-{max(p99):.2f}) | {recorded} / {answered} |"
            )


if __name__ == "__main__":
    main()
