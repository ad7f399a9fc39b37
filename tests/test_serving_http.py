"""The HTTP protocol of the scoring server: a response completed in one step leaves in one write."""

from __future__ import annotations

import asyncio
import socket
from asyncio import selector_events

import pytest
import uvicorn
from conftest import wait_until_async

from workbench.serving._http import CoalescingHttpToolsProtocol


async def _app(scope, receive, send):
    """One-step answers on ``/whole``; ``/streamed`` sends its body in three parts, a loop turn apart."""
    if scope["type"] != "http":
        return
    await receive()
    if scope["path"] == "/whole":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"whole"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for part in (b"one,", b"two,", b"three"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
        await asyncio.sleep(0.01)  # the parts leave a few loop turns apart: the streaming under test
    await send({"type": "http.response.body", "body": b""})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = b""
    while b"whole" not in data and b"0\r\n\r\n" not in data:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        if not chunk:
            break
        data += chunk
    closed = await asyncio.wait_for(reader.read(), 5) == b"" if b"close" in request else None
    writer.close()
    return data if closed is not False else b"not closed"


@pytest.fixture
def written(monkeypatch) -> list[bytes]:
    """Every write the server's real socket transports receive (the default event loop's, patchable)."""
    writes: list[bytes] = []
    real = selector_events._SelectorSocketTransport.write

    def recording(self, data):
        if isinstance(self._protocol, CoalescingHttpToolsProtocol):  # not the test client's writes
            writes.append(bytes(data))
        return real(self, data)

    monkeypatch.setattr(selector_events._SelectorSocketTransport, "write", recording)
    return writes


def test_one_step_responses_leave_in_one_write_and_streams_part_by_part(written):
    async def scenario() -> tuple[bytes, list[bytes], bytes, list[bytes], bytes]:
        port = _free_port()
        config = uvicorn.Config(
            _app, port=port, loop="asyncio", http=CoalescingHttpToolsProtocol, lifespan="off", log_level="warning"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        await wait_until_async(lambda: server.started, timeout=30, what="uvicorn to start")
        try:
            whole = await _exchange(port, b"GET /whole HTTP/1.1\r\nhost: x\r\n\r\n")
            whole_writes = list(written)
            written.clear()
            streamed = await _exchange(port, b"GET /streamed HTTP/1.1\r\nhost: x\r\n\r\n")
            streamed_writes = list(written)
            closing = await _exchange(port, b"GET /whole HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        finally:
            server.should_exit = True
            await task
        return whole, whole_writes, streamed, streamed_writes, closing

    whole, whole_writes, streamed, streamed_writes, closing = asyncio.run(scenario())
    assert whole.startswith(b"HTTP/1.1 200 OK\r\n") and whole.endswith(b"\r\n\r\nwhole")
    assert whole_writes == [whole]  # status line, headers and body: one write
    assert b"transfer-encoding: chunked" in streamed and b"one," in streamed and b"three" in streamed
    assert len(streamed_writes) >= 4  # headers with the first part, then a write per later turn
    # a connection the response closes still delivers the held response before the end of the stream
    assert closing.endswith(b"\r\n\r\nwhole") and b"connection: close" in closing
