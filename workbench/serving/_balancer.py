"""Several scoring processes behind one port, each connection handed to the process with the fewest open ones.

With a listening socket shared by all workers (uvicorn's ``--workers``), whichever worker wakes first accepts
every connection waiting: a client that opens its connection pool at once (a loan-origination system, a load
balancer, wrk) often lands every connection on one worker while the others idle, which halves the throughput
and doubles the latency of a two-worker server. Here the supervising process accepts instead and passes each
connection's descriptor (``SCM_RIGHTS`` over a Unix socket pair) to the worker with the fewest open
connections, the scheme Node.js's cluster module uses by default for the same reason. Requests on a connection
then go straight to its worker: the supervisor touches a connection once, never its bytes.

Each worker runs an ordinary :class:`uvicorn.Server` whose listening step is replaced by receiving handed
connections. The supervisor restarts a worker that dies, and on SIGTERM/SIGINT stops accepting and lets the
workers finish their requests (uvicorn's graceful shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import uvicorn

log = logging.getLogger("workbench.serving")

#: seconds between checks that every worker is alive
_WATCH_SECONDS = 0.5
#: a worker's exit status when its app did not start (uvicorn's own)
_STARTUP_FAILURE = 3
#: what a worker tells the supervisor once its app has started
_READY = b"ready"
#: seconds the supervisor waits for every worker before serving with those that started
_START_SECONDS = 300.0


class HandedConnectionsServer(uvicorn.Server):
    """A uvicorn server that serves connections handed over a Unix socket instead of accepting its own."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket, closed: Any, index: int) -> None:
        super().__init__(config)
        self.channel = channel
        self.closed = closed  # closed[index]: connections this worker has finished (written here only)
        self.index = index

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start the app, then serve whatever connections the supervisor hands over (mirrors uvicorn's own)."""
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(_STARTUP_FAILURE)
        config, closed, index = self.config, self.closed, self.index

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=_loop
            )
            lost = protocol.connection_lost

            def connection_lost(error: Exception | None) -> None:
                closed[index] += 1
                lost(error)

            protocol.connection_lost = connection_lost  # type: ignore[method-assign]
            return protocol

        loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive, loop, create_protocol)
        self.channel.send(_READY)
        self.servers = []
        self.started = True

    def _receive(self, loop: asyncio.AbstractEventLoop, create_protocol: Callable[[], asyncio.Protocol]) -> None:
        while True:
            try:
                message, fds, _flags, _address = socket.recv_fds(self.channel, 1, 1)
            except BlockingIOError:
                return
            if not message:  # the supervisor is gone: finish what is open, take nothing new
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                loop.create_task(self._adopt(loop, socket.socket(fileno=fd), create_protocol))

    async def _adopt(
        self, loop: asyncio.AbstractEventLoop, connection: socket.socket, create_protocol: Callable[[], Any]
    ) -> None:
        try:
            await loop.connect_accepted_socket(create_protocol, connection)
        except OSError as error:  # the client left while the connection was being handed over
            log.debug("a handed connection could not be adopted: %s", error)
            connection.close()
            self.closed[self.index] += 1

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Take no more connections, then uvicorn's graceful shutdown of the open ones."""
        asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets)


def _worker_main(index: int, channel: socket.socket, closed: Any, config: dict[str, Any]) -> None:
    try:
        HandedConnectionsServer(uvicorn.Config(**config), channel, closed, index).run()
    except KeyboardInterrupt:  # Ctrl-C reached the whole process group; uvicorn has shut down gracefully already
        pass


class _Worker:
    def __init__(self, context: Any, index: int, closed: Any, config: dict[str, Any]) -> None:
        # message boundaries (one descriptor per message) and the socket buffer, not a datagram queue, as limit
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.channel.setblocking(False)  # a worker that stops reading must not stop the supervisor
        closed[index] = 0
        self.handed = 0  # connections handed to this process (written by the supervisor only)
        self.ready = False
        self.process = context.Process(
            target=_worker_main, args=(index, theirs, closed, config), name=f"workbench-scoring-{index}"
        )
        self.process.start()
        theirs.close()

    def stop(self) -> None:
        self.channel.close()
        if self.process.is_alive():
            self.process.terminate()


class ConnectionBalancer:
    """Accepts on one port and hands each connection to the worker with the fewest open connections."""

    def __init__(self, config: dict[str, Any], workers: int, *, host: str, port: int) -> None:
        self.config = config
        self.host, self.port = host, port
        self.context = multiprocessing.get_context("spawn")
        self.closed = self.context.RawArray("q", workers)  # per worker: connections it has closed
        self.workers: list[_Worker] = []
        self.count = workers
        self._stopping = False

    def open_connections(self, index: int) -> int:
        """Connections worker ``index`` holds open now (handed minus closed)."""
        return self.workers[index].handed - self.closed[index]

    def _least_loaded(self) -> list[int]:
        """Workers to try, fewest open connections first; those still starting only after the ready ones."""
        return sorted(range(self.count), key=lambda i: (not self.workers[i].ready, self.open_connections(i)))

    def _hand(self, connection: socket.socket) -> None:
        for index in self._least_loaded():
            worker = self.workers[index]
            try:
                socket.send_fds(worker.channel, [b"c"], [connection.fileno()])
            except OSError:  # that worker is gone or its queue is full: the next one takes it
                continue
            worker.handed += 1
            return
        log.error("no scoring worker could take a connection; closing it")

    def _replace_dead(self) -> None:
        for index, worker in enumerate(self.workers):
            if worker.process.is_alive():
                continue
            code = worker.process.exitcode
            self._forget(worker)
            worker.stop()
            if code == _STARTUP_FAILURE:  # a replacement would fail the same way
                raise SystemExit(f"scoring worker {index} could not start the app (see the log above)")
            log.warning("scoring worker %d (pid %s) exited with %s; starting another", index, worker.process.pid, code)
            self.workers[index] = _Worker(self.context, index, self.closed, self.config)
            self._selector.register(self.workers[index].channel, selectors.EVENT_READ, index)

    def _forget(self, worker: _Worker) -> None:
        """Stop watching a worker's channel (it closed: the process is ending)."""
        worker.ready = False
        try:
            self._selector.unregister(worker.channel)
        except (KeyError, ValueError):  # already forgotten
            pass

    def _heard_from(self, index: int) -> None:
        worker = self.workers[index]
        try:
            message = worker.channel.recv(16)
        except BlockingIOError:
            return
        except OSError:
            message = b""
        if message == _READY:
            worker.ready = True
        elif not message:  # the worker is exiting; it is replaced once it has gone
            self._forget(worker)

    def _stop(self, *_: Any) -> None:
        self._stopping = True

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT.

        Connections wait in the listen backlog until every worker has started (or :data:`_START_SECONDS` have
        passed): a client that opened its pool while one worker was still loading would otherwise have every
        connection on the other for as long as it keeps them.
        """
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.create_server((self.host, self.port), family=family, backlog=self.config.get("backlog", 2048))
        listener.setblocking(False)
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}
        self._selector = selector = selectors.DefaultSelector()
        self.workers = [_Worker(self.context, i, self.closed, self.config) for i in range(self.count)]
        for index, worker in enumerate(self.workers):
            selector.register(worker.channel, selectors.EVENT_READ, index)
        accepting, start_by = False, time.monotonic() + _START_SECONDS
        try:
            while not self._stopping:
                for key, _mask in selector.select(_WATCH_SECONDS):
                    if key.data is not None:
                        self._heard_from(key.data)
                        continue
                    while True:
                        try:
                            connection, _address = listener.accept()
                        except (BlockingIOError, InterruptedError):
                            break
                        with connection:
                            self._hand(connection)
                if self._stopping:  # the workers got the same signal: they are ending, not dying
                    break
                self._replace_dead()
                if not accepting and (all(w.ready for w in self.workers) or time.monotonic() > start_by):
                    selector.register(listener, selectors.EVENT_READ, None)
                    accepting = True
        finally:
            selector.close()
            listener.close()
            for worker in self.workers:
                worker.stop()  # closing the channel and SIGTERM: each finishes its open requests
            deadline = time.monotonic() + float(self.config.get("timeout_graceful_shutdown") or 10) + 5
            for worker in self.workers:
                worker.process.join(max(0.0, deadline - time.monotonic()))
                if worker.process.is_alive():
                    worker.process.kill()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(config: dict[str, Any], workers: int, *, host: str, port: int) -> None:
    """Run ``workers`` scoring processes on ``host:port`` (one process: plain uvicorn, nothing to balance)."""
    if workers <= 1:
        uvicorn.run(host=host, port=port, **config)
        return
    ConnectionBalancer(config, workers, host=host, port=port).run()
