"""The scoring server as operators run it: `workbench serve` in its own processes, killed with SIGKILL."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import poll, wait_until

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(project) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "WORKBENCH_USERS"}}
    env["WORKBENCH_HOME"] = str(project)
    return env


def _ready(port: int, process: subprocess.Popen) -> bool:
    """The server answers its readiness check (the test fails at once if the server has exited)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {process.stdout.read()}")
        return False


@contextmanager
def _serving(project: Path, *options: str):
    """`workbench serve OPTIONS` on a free port in its own process group (SIGKILL reaches the workers too),
    once it answers ready and has closed every connection of the readiness checks (those that timed out while
    it started are handed to the workers once all have started: until they are closed, the workers' counts of
    open connections differ); yields (port, process). Killed on the way out if it is still running."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--port", str(port), *options],
        cwd=project,
        env=_environment(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until(lambda: _ready(port, process), timeout=180, interval=0.5, what="the server to answer ready")
        wait_until(lambda: not _open_connections(port), timeout=30, what="the readiness checks' connections to close")
        yield port, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _open_connections(port: int) -> int:
    """Connections to ``port`` the server still holds open: established, or closed by the client only.

    A worker counts a connection as closed before it closes the socket, so at zero the server's count of open
    connections per worker (which decides where the next connection goes) is up to date.
    """
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            count += int(local.rsplit(":", 1)[1], 16) == port and state in ("01", "08")  # ESTABLISHED, CLOSE_WAIT
    return count


class ServerLife(NamedTuple):
    """What one `workbench serve` with two workers showed over its life, in this order."""

    project: Path
    workers: set[int]  # uvicorn's two worker processes once ready
    victim: int  # the worker then killed with SIGKILL
    replaced: set[int]  # the worker processes once the victim was replaced (or when the wait ended)
    answering: bool  # the server answered ready again then
    alive: bool  # the server itself was still running then
    received: list[str]  # decisions acknowledged under load before SIGKILL to the whole process group
    refused: list[str]  # answers other than 200 under that load
    store: str  # the decision store's URL


def _workers(server: int) -> set[int]:
    """The live worker processes uvicorn started for the server (its children running the spawned program)."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if int(state[1]) == server and state[0] != "Z" and b"spawn_main" in command:
            found.add(int(pid))
    return found


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server_life(served_project, applications_for_load, request) -> ServerLife:
    """`workbench serve` with two workers, for each decision store, taken through one life in order: one
    worker killed and replaced by uvicorn's supervisor, then load and SIGKILL to the process group.

    The tests assert on what it showed: the life is lived once, before any of them, whichever runs.
    """
    project, tokens = served_project.project, served_project.tokens
    if request.param == "postgresql":
        store = request.getfixturevalue("postgres_cluster").database()
    else:
        store = f"sqlite:///{project / 'registry_store' / 'serving' / 'decisions.db'}"
    options = ("--workers", "2", "--refresh", "1", "--decision-store", store)
    with _serving(project, *options) as (port, process):
        workers = set(
            wait_until(
                lambda: len(_workers(process.pid)) == 2 and _workers(process.pid), timeout=60, what="two workers"
            )
        )
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        replaced: set[int] = set()

        def replaced_and_ready() -> bool:
            replaced.clear()
            replaced.update(_workers(process.pid))
            return len(replaced) == 2 and victim not in replaced and _ready(port, process)

        poll(replaced_and_ready, timeout=120, interval=0.5)  # the test says whether it happened in time
        answering = _ready(port, process)
        alive = process.poll() is None
        received, refused = _load_then_sigkill(port, tokens["los"], applications_for_load, process)
    return ServerLife(project, workers, victim, replaced, answering, alive, received, refused, store)


def _load_then_sigkill(port: int, token: str, applications: list[dict], process) -> tuple[list[str], list[str]]:
    """Sixteen clients scoring one application per request; SIGKILL to the process group once 500 decisions
    were acknowledged (mid-load, no shutdown of any kind). Returns the acknowledged ids and the refusals."""
    received: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = offset
        while not stop.is_set():
            body = json.dumps({"applications": [applications[i % len(applications)]]})
            i += 1
            try:
                connection.request("POST", "/score", body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                return  # the server is gone: whatever was not fully received was never acknowledged
            with lock:
                if response.status != 200:
                    refused.append(f"{response.status} {payload[:200]!r}")
                    return
                received.extend(d["decision_id"] for d in json.loads(payload)["decisions"])

    threads = [threading.Thread(target=client, args=(n * 37,)) for n in range(16)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(received) >= 500 or refused, timeout=120, what="500 decisions acknowledged under load")
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    process.wait(timeout=30)
    return received, refused


def test_a_dead_worker_is_replaced_by_uvicorns_supervisor(server_life):
    life = server_life
    assert len(life.workers) == 2
    assert len(life.replaced) == 2 and life.victim not in life.replaced, (
        f"no replacement for worker {life.victim}: workers now {life.replaced}"
    )
    assert life.answering and life.alive


def test_every_acknowledged_decision_survives_sigkill(server_life):
    from workbench.serving import open_decision_store

    received = server_life.received
    assert not server_life.refused
    assert len(received) >= 500, "the load did not get going"
    store = open_decision_store(server_life.store)
    missing = [d for d in received if store.get(d) is None]
    store.close()
    assert not missing, f"{len(missing)} of {len(received)} acknowledged decisions were lost"


def test_replay_command_shows_the_same_decision(server_life):
    """A decision the server acknowledged (before it was killed) is replayed identically from the registry."""
    project = server_life.project
    decision_id = server_life.received[0]
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "replay", decision_id, "--decision-store", server_life.store],
        cwd=project,
        env=_environment(project),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical: same model bytes, score, decision and reasons" in result.stdout
    unknown = subprocess.run(  # the store named by WORKBENCH_DECISION_STORE
        [sys.executable, "-m", "workbench.cli", "replay", "no-such-decision"],
        cwd=project,
        env={**_environment(project), "WORKBENCH_DECISION_STORE": server_life.store},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert unknown.returncode == 2 and "not in the decision store" in unknown.stderr


def test_serve_refuses_a_model_without_champion(served_project):
    project = served_project.project
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "serve", "--model", "no_such_model", "--port", str(_free_port())],
        cwd=project,
        env=_environment(project),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "no @champion" in result.stderr, result.stderr


def test_ctrl_c_stops_the_server_and_every_worker_cleanly(served_project, applications_for_load):
    """SIGINT to the process group (Ctrl-C in a terminal): exit 0, no traceback, no process left behind."""
    project, tokens = served_project.project, served_project.tokens
    with _serving(project, "--workers", "2", "--refresh", "0") as (port, process):
        workers = wait_until(
            lambda: len(_workers(process.pid)) == 2 and _workers(process.pid), timeout=60, what="two workers"
        )
        _score_on_connections(port, tokens["los"], applications_for_load[0], 4)
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    wait_until(
        lambda: not [pid for pid in workers if _running(pid)],
        timeout=10,
        what=f"the workers {sorted(workers)} to end",
    )


def _score_on_connections(port: int, token: str, application: dict, connections: int) -> None:
    """Score one application on each of ``connections`` opened at once (so every worker scores)."""
    opened = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(connections)]
    for connection in opened:
        connection.connect()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for connection in opened:
        connection.request("POST", "/score", body=json.dumps({"applications": [application]}), headers=headers)
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()
    for connection in opened:
        connection.close()


def _running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_two_instances_on_one_postgres_share_the_record(served_project, applications_for_load, postgres_cluster):
    """Two `workbench serve` (own processes, own ports, as on two hosts) write to one PostgreSQL: replay and
    monitoring see the decisions of both."""
    from workbench.monitoring import export_decisions
    from workbench.serving import open_decision_store

    project, token = served_project.project, served_project.tokens["los"]
    store = postgres_cluster.database()
    options = ("--refresh", "0", "--decision-store", store)
    ids: dict[int, list[str]] = {}
    with _serving(project, *options) as (first, _), _serving(project, *options) as (second, _):
        for port in (first, second):
            ids[port] = _score_ids(port, token, applications_for_load[port % 50 : port % 50 + 3])
    first_ids, second_ids = ids[first], ids[second]
    for decision_id in (first_ids[0], second_ids[0]):
        result = subprocess.run(
            [sys.executable, "-m", "workbench.cli", "replay", decision_id],
            cwd=project,
            env={**_environment(project), "WORKBENCH_DECISION_STORE": store},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0 and "identical" in result.stdout, result.stdout + result.stderr
    reader = open_decision_store(store)
    try:
        folder = project / "two-instances-monitoring"
        assert export_decisions("german_credit", reader, folder) == 6
        import pandas as pd

        exported = set(pd.read_parquet(folder)["id"])
        assert exported == set(first_ids) | set(second_ids)
        assert export_decisions("german_credit", reader, folder) == 0  # each decision once
    finally:
        reader.close()


def _score_ids(port: int, token: str, applications: list[dict]) -> list[str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", "/score", body=json.dumps({"applications": applications}), headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    assert response.status == 200, payload
    return [d["decision_id"] for d in json.loads(payload)["decisions"]]
