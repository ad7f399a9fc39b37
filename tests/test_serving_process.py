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
import time
import urllib.request

import pytest

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(project) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "WORKBENCH_USERS"}}
    env["WORKBENCH_HOME"] = str(project)
    return env


@pytest.fixture(scope="module", params=["power", "process"])
def running_server(served_project, request):
    """`workbench serve` with two workers, for each durability setting."""
    project, _, _, tokens = served_project
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--refresh",
            "1",
            "--durability",
            request.param,
        ],
        cwd=project,
        env=_environment(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: SIGKILL reaches the workers too
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"the server exited: {process.stdout.read()}")
            time.sleep(0.5)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("the server did not become ready")
    yield project, port, tokens, process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)


def _answering_processes(port: int, connections: int) -> list[int]:
    """Open ``connections`` at once, then ask /health on each: the worker process behind each connection."""
    opened = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(connections)]
    for connection in opened:
        connection.connect()
    pids = []
    for connection in opened:
        connection.request("GET", "/health")
        pids.append(json.loads(connection.getresponse().read())["process"])
    for connection in opened:
        connection.close()
    return pids


def test_connections_are_spread_evenly_and_a_dead_worker_is_replaced(running_server):
    """A pool opened at once lands half on each worker; a worker killed is replaced and gets connections again."""
    from collections import Counter

    _, port, _, process = running_server
    time.sleep(0.5)  # the connections of the readiness check are closed
    spread = Counter(_answering_processes(port, 16))
    assert sorted(spread.values()) == [8, 8], spread
    victim = next(iter(spread))
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.5)
    assert set(_answering_processes(port, 4)) - {victim}  # the survivor answers while the other is replaced
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = set(_answering_processes(port, 8))
        if len(now) == 2 and victim not in now:
            break
        time.sleep(1)
    else:
        pytest.fail(f"no replacement for worker {victim}: still answering {now}")
    assert process.poll() is None


def test_every_acknowledged_decision_survives_sigkill(running_server, applications_for_load):
    from workbench.serving import DecisionLog

    project, port, tokens, process = running_server
    received: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {tokens['los']}", "Content-Type": "application/json"}

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = offset
        while not stop.is_set():
            body = json.dumps({"applications": [applications_for_load[i % len(applications_for_load)]]})
            i += 1
            try:
                connection.request("POST", "/score", body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                return  # the server is gone: whatever was not fully received was never acknowledged
            assert response.status == 200, payload
            with lock:
                received.extend(d["decision_id"] for d in json.loads(payload)["decisions"])

    threads = [threading.Thread(target=client, args=(n * 37,)) for n in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(4)
    os.killpg(process.pid, signal.SIGKILL)  # mid-load, no shutdown of any kind
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    process.wait(timeout=30)
    assert len(received) > 200, "the load did not get going"
    log = DecisionLog(project / "registry_store" / "serving" / "decisions")
    missing = [d for d in received if log.get(d) is None]
    assert not missing, f"{len(missing)} of {len(received)} acknowledged decisions were lost"


def test_replay_command_shows_the_same_decision(running_server, served_project):
    from workbench.serving import DecisionLog

    project = served_project[0]
    log = DecisionLog(project / "registry_store" / "serving" / "decisions")
    decision_id = log.ids(route="champion", limit=1)[0]
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "replay", decision_id],
        cwd=project,
        env=_environment(project),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical: same model bytes, score, decision and reasons" in result.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "replay", "no-such-decision"],
        cwd=project,
        env=_environment(project),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert unknown.returncode == 2 and "not in the decision log" in unknown.stderr


def test_serve_refuses_a_model_without_champion(served_project):
    project = served_project[0]
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "serve", "--model", "no_such_model", "--port", str(_free_port())],
        cwd=project,
        env=_environment(project),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "no @champion" in result.stderr, result.stderr


def test_ctrl_c_stops_the_server_and_every_worker_cleanly(served_project, applications_for_load, flushing_processes):
    """SIGINT to the process group (Ctrl-C in a terminal): exit 0, no traceback, no process left behind."""
    project, tokens = served_project[0], served_project[3]
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--port", str(port), "--workers", "2", "--refresh", "0"],
        cwd=project,
        env=_environment(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2):
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                time.sleep(0.5)
        workers = set(_answering_processes(port, 4))
        assert len(workers) == 2 and process.pid not in workers
        decisions = project / "registry_store" / "serving" / "decisions"
        before = set(flushing_processes(decisions))
        _score_on_connections(port, tokens["los"], applications_for_load[0], 4)  # each worker gets its flusher
        flushers = set(flushing_processes(decisions)) - before
        assert len(flushers) == 2
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    time.sleep(0.5)
    assert not [pid for pid in workers | flushers if _running(pid)]


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
