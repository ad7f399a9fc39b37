"""Timeouts of the standard server as ``workbench serve`` configures it (``UVICORN_CONFIG``): a client that
declares more body than it sends is answered 408 after the body timeout and its connection is closed by
uvicorn's keep-alive timeout, seconds later, not after minutes."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from conftest import in_process_server, wait_until

BODY_SECONDS = 1.0


@pytest.fixture(scope="module")
def live(served_project):
    """The project's server on a free port under uvicorn with the settings ``workbench serve`` uses."""
    import uvicorn

    from workbench.serving import UVICORN_CONFIG

    settings = {k: v for k, v in UVICORN_CONFIG.items() if k not in ("app", "factory")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_SERVE_BODY_SECONDS", str(BODY_SECONDS))
        with in_process_server(served_project.project, recheck_seconds=0) as (_, app, _client, _decisions):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", **settings))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            try:
                wait_until(lambda: server.started, timeout=30, what="uvicorn to start")
                yield port, served_project.tokens["los"], UVICORN_CONFIG["timeout_keep_alive"]
            finally:
                server.should_exit = True
                thread.join(timeout=30)


def test_a_content_length_larger_than_the_body_is_answered_and_closed_within_the_configured_timeouts(
    live, applications_for_load
):
    port, token, keep_alive = live
    body = json.dumps({"applications": applications_for_load[:1]}).encode()
    head = (
        f"POST /score HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body) + 100}\r\n\r\n"
    ).encode()
    limit = BODY_SECONDS + keep_alive + 5  # both timeouts and a margin for a loaded machine; far below 120 s
    started = time.monotonic()
    received, answered, closed = b"", None, None
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        sock.sendall(head + body)  # 100 bytes short of what the header declares
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = time.monotonic() - started
                break
            received += chunk
            if answered is None and b"\r\n\r\n" in received:
                answered = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    assert b'"error":"body_timeout"' in received.replace(b" ", b"")
    assert BODY_SECONDS * 0.9 <= answered < BODY_SECONDS + 4
    assert closed is not None and closed < limit, f"connection held {closed} s"
