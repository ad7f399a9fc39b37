"""HTTP hardening, found by fuzzing and hand-made requests: slow bodies, content types and encodings, numbers
JSON does not have, echoed names, and an OpenAPI document that lists every status the server sends
(schemathesis with all its checks, against the server on a real socket)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest
from conftest import wait_until

MODEL = "german_credit"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _live(project, monkeypatch):
    """The project's server under uvicorn on a free port in this process (a body timeout of 1 s)."""
    import uvicorn
    from conftest import in_process_server

    monkeypatch.setenv("WORKBENCH_SERVE_BODY_SECONDS", "1")
    with in_process_server(project, recheck_seconds=0) as (server, app, _client, decisions):
        port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        live = uvicorn.Server(config)
        thread = threading.Thread(target=live.run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: live.started, timeout=30, what="uvicorn to start")
            yield port, server, decisions
        finally:
            live.should_exit = True
            thread.join(timeout=30)


@pytest.fixture(scope="module")
def live(served_project):
    with pytest.MonkeyPatch.context() as patch, _live(served_project.project, patch) as (port, server, decisions):
        yield {"port": port, "server": server, "decisions": decisions, "tokens": served_project.tokens}


def _request(port: int, raw: bytes, *, wait: float = 10.0) -> tuple[int, dict, float]:
    """Send raw bytes; returns (status, JSON body, seconds until the answer)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(raw)
        received = b""
        while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < _length(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body or b"null"), time.monotonic() - started


def _length(received: bytes) -> int:
    for line in received.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _post(live, body: bytes, *, headers: dict[str, str] | None = None, length: int | None = None):
    lines = [
        "POST /score HTTP/1.1",
        "Host: test",
        f"Authorization: Bearer {live['tokens']['los']}",
        f"Content-Length: {len(body) if length is None else length}",
        *[f"{k}: {v}" for k, v in ({"Content-Type": "application/json"} | (headers or {})).items()],
    ]
    return _request(live["port"], ("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def test_a_body_shorter_than_its_content_length_gets_408_in_time(live, applications_for_load):
    body = json.dumps({"applications": applications_for_load[:1]}).encode()
    status, answer, seconds = _post(live, body[:20], length=len(body))
    assert status == 408 and answer["error"] == "body_timeout", answer
    assert seconds < 5  # the configured 1 s, not minutes


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"])
def test_a_content_type_other_than_json_gets_415(live, applications_for_load, kind):
    body = json.dumps({"applications": applications_for_load[:1]}).encode()
    status, answer, _ = _post(live, body, headers={"Content-Type": kind})
    assert status == 415 and answer["error"] == "unsupported_media_type" and "application/json" in answer["message"]


def test_a_compressed_body_is_refused_with_415(live, applications_for_load):
    import gzip

    body = gzip.compress(json.dumps({"applications": applications_for_load[:1]}).encode())
    status, answer, _ = _post(live, body, headers={"Content-Encoding": "gzip"})
    assert status == 415 and answer["error"] == "unsupported_encoding" and "gzip" in answer["message"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_numbers_json_does_not_have_get_422_naming_the_field(live, applications_for_load, number):
    before = live["decisions"].count()
    text = json.dumps({"applications": [{**applications_for_load[0], "credit_amount": 1.5}]})
    status, answer, _ = _post(live, text.replace("1.5", number).encode())
    assert status == 422, answer
    assert answer["problems"] == [{"field": "applications[0].credit_amount", "problem": "must be a finite number"}]
    assert live["decisions"].count() == before


def test_a_huge_field_name_is_cut_in_the_error(live, applications_for_load):
    name = "x" * 500_000
    body = json.dumps({"applications": [{**applications_for_load[0], name: 1}]}).encode()
    status, answer, _ = _post(live, body)
    assert status == 422
    text = json.dumps(answer)
    assert len(text) < 2_000 and "... (500016 characters)" in text  # applications[0].xxx...: cut, its length said


def test_schemathesis_with_every_check_finds_nothing(live, tmp_path):
    """The OpenAPI document lists every status and content type the server sends (``--checks all``)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"http://127.0.0.1:{live['port']}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {live['tokens']['los']}",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--generation-deterministic",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
