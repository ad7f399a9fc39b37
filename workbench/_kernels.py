"""Notebook kernels forked from one process that has already imported the validation stack.

Starting a Python kernel and importing the validation stack (pandas, scikit-learn, statsmodels, MLflow, SHAP,
fairlearn, skops) costs about 7 s of one core, and every kernel pays it again. A :class:`KernelForkServer`
pays it once: it starts first (so its imports overlap the command's own start-up on the other core), imports
the stack, then forks one kernel per notebook on request. Each notebook still runs in its own process with an
empty namespace; only the imports are inherited.

How the pieces talk (a Unix socket, one JSON line per message):

- ``jupyter_client`` starts and manages a small *launcher* process (``python -m workbench._kernels launch``),
  exactly as it would start an ordinary kernel; the launcher asks the server for a kernel, passing the
  kernel's arguments (connection file), working directory and environment;
- the server forks; the child becomes the ipykernel; the server answers ``{"pid": N}`` and, when the kernel
  ends, ``{"exit": code}``, and the launcher exits with that code;
- when ``jupyter_client`` kills the launcher, the server sees the connection close and stops the kernel; when
  the server stops, its kernels notice their parent is gone and stop too (ipykernel's parent poller).

The server is single-threaded and creates no ZeroMQ context, database connection or thread before forking, so
each child starts from a clean state. Off Linux, :func:`kernel_source` falls back to ordinary kernels.
This module imports nothing heavy, so a command can call it first.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

KERNEL_QUIET = "--IPKernelApp.log_level=CRITICAL"
#: kernels keep their input history in memory: parallel kernels would otherwise contend for one SQLite file
KERNEL_ARGUMENTS = [KERNEL_QUIET, "--HistoryManager.hist_file=:memory:"]

#: what the validator's notebooks import, plus what their first cell loads on first use (MLflow's SQL stores,
#: the skops loader); the fork server imports it once for all kernels
VALIDATION_IMPORTS = (
    "import workbench.notebook, workbench.validation, workbench.validation._interactive, "
    "workbench.fairness, workbench.fairness._evaluate, workbench.explain, workbench.registry, "
    "mlflow.sklearn, mlflow.store.tracking.sqlalchemy_store, mlflow.store.model_registry.sqlalchemy_store, skops.io"
)

#: a kernel manager factory: returns a started ``jupyter_client`` kernel manager
KernelFactory = Callable[[], object]


def kernel_environment(root: Path) -> None:
    """Make kernels use this interpreter and see the same registry and project root."""
    bin_dir = str(Path(sys.executable).parent)
    if not os.environ.get("PATH", "").startswith(bin_dir):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("WORKBENCH_HOME", str(root))


def _launcher_specs(argv: list[str]):
    """A kernel spec manager whose one spec runs ``argv`` (the launcher) instead of ``ipykernel_launcher``."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class LauncherSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(
                argv=argv,
                display_name="Python 3 (forked)",
                language="python",
                # the launcher is not the kernel: interrupts go as messages, not signals to the launcher
                interrupt_mode="message",
                resource_dir="",
            )

    return LauncherSpecs()


def start_kernel(root: Path, launcher: list[str] | None = None):
    """Start a Python kernel in ``root`` and return its ``jupyter_client`` kernel manager.

    ``launcher`` (see :meth:`KernelForkServer.start_kernel`) replaces the usual ``ipykernel_launcher``
    command; without it this is an ordinary kernel that imports everything itself.
    """
    from jupyter_client.manager import KernelManager

    kernel_environment(root)
    if launcher is None:
        manager = KernelManager(kernel_name="python3")
    else:
        manager = KernelManager(kernel_name="python3", kernel_spec_manager=_launcher_specs(launcher))
    manager.start_kernel(cwd=str(root), extra_arguments=list(KERNEL_ARGUMENTS))
    return manager


def shutdown(kernels: list) -> None:
    """Stop kernels (already stopped ones are skipped)."""
    for manager in kernels:
        try:
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
        except Exception:  # a kernel that died on its own leaves nothing to stop
            pass


class KernelForkServer:
    """A process that imports ``warm`` once and forks a kernel per :meth:`start_kernel` call."""

    def __init__(self, root: Path, warm: str = VALIDATION_IMPORTS) -> None:
        kernel_environment(root)
        self.root = root
        self._folder = tempfile.mkdtemp(prefix="wb-kernels-")
        self.socket_path = os.path.join(self._folder, "server.sock")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workbench._kernels", "serve", self.socket_path, warm],
            cwd=str(root),
            stdin=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Block until the server has imported the stack and listens (raises if it stopped instead)."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.socket_path):
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(f"the notebook kernel server stopped (exit code {code}) before it was ready")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the notebook kernel server was not ready within {timeout:.0f} s")
            time.sleep(0.02)

    def start_kernel(self):
        """A started kernel manager whose kernel is forked from this server."""
        self.wait_ready()
        launcher = [sys.executable, "-m", "workbench._kernels", "launch", self.socket_path, "{connection_file}"]
        return start_kernel(self.root, launcher)

    def close(self) -> None:
        """Stop the server; kernels it forked stop with it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)


def fork_supported() -> bool:
    """Whether kernels are forked here: on Linux (``fork`` and Unix sockets; macOS system libraries are not
    safe to use in a forked child, and Windows has no fork)."""
    return sys.platform.startswith("linux") and hasattr(socket, "AF_UNIX")


@contextmanager
def kernel_source(root: Path, warm: str = VALIDATION_IMPORTS) -> Iterator[KernelFactory]:
    """A factory of started kernels: forked from a :class:`KernelForkServer` where possible, else ordinary.

    The server starts importing at once; the factory blocks until it is ready. Everything stops on exit.
    """
    if not fork_supported():
        yield lambda: start_kernel(root)
        return
    server = KernelForkServer(root, warm)
    try:
        yield server.start_kernel
    finally:
        server.close()


# ---- the server and launcher processes -------------------------------------------------------------------


def _send(connection: socket.socket, message: dict) -> None:
    connection.sendall(json.dumps(message).encode("utf-8") + b"\n")


def _receive(connection: socket.socket, timeout: float | None = None) -> dict | None:
    """One JSON line, or None when the other side closed first."""
    connection.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def _become_kernel(request: dict, inherited: list[socket.socket]) -> None:
    """In the forked child: run an ipykernel with the launcher's arguments, directory and environment."""
    for item in inherited:
        item.close()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["ipykernel_launcher", *request["argv"]]
        from ipykernel.kernelapp import IPKernelApp

        # the parent poller stops this kernel when the server goes away
        IPKernelApp.launch_instance(argv=[*request["argv"], f"--IPKernelApp.parent_handle={os.getppid()}"])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def _serve(path: str, warm: str) -> None:
    """The fork server: import ``warm``, listen on ``path``, fork a kernel per request."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the command, which stops this server
    kernels: dict[int, socket.socket | None] = {}  # kernel pid -> its launcher's connection (None: gone)

    def stop(*_) -> None:  # no interpreter teardown: nothing here needs it, and it takes a second
        for pid in kernels:
            _signal(pid, signal.SIGKILL)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as ipykernel sets it
    exec(warm, {})  # noqa: S102 - a fixed import statement from this module
    import ipykernel.kernelapp  # noqa: F401 - imported once here, not in every kernel

    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".binding")
    listener.listen(16)
    os.rename(path + ".binding", path)  # the path appears only once connections are accepted
    try:
        while os.getppid() == parent:
            watched = [listener, *(c for c in kernels.values() if c is not None)]
            ready, _, _ = select.select(watched, [], [], 0.2)
            for item in ready:
                if item is listener:
                    connection, _ = listener.accept()
                    try:
                        request = _receive(connection, timeout=30)
                    except (OSError, ValueError):
                        request = None
                    if request is None:
                        connection.close()
                        continue
                    pid = os.fork()
                    if pid == 0:
                        _become_kernel(request, [listener, connection, *(c for c in kernels.values() if c)])
                    connection.settimeout(None)
                    kernels[pid] = connection
                    _send(connection, {"pid": pid})
                else:  # a launcher's connection closed: its manager killed it, so stop the kernel
                    pid = next(p for p, c in kernels.items() if c is item)
                    item.close()
                    kernels[pid] = None
                    _signal(pid, signal.SIGTERM)
            _reap(kernels)
    finally:
        for pid in kernels:
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _reap(kernels: dict[int, socket.socket | None]) -> None:
    """Collect ended kernels and tell their launchers the exit code."""
    while kernels:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = kernels.pop(pid, None)
        if connection is not None:
            try:
                _send(connection, {"exit": os.waitstatus_to_exitcode(status)})
            except OSError:
                pass
            connection.close()


def _launch(path: str, connection_file: str, arguments: list[str]) -> int:
    """The launcher: ask the server for a kernel, then live as long as it does and exit with its code."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts reach the kernel as messages
    deadline = time.monotonic() + 300
    while True:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            connection.close()
            if time.monotonic() > deadline:
                print(f"no notebook kernel server at {path}", file=sys.stderr)
                return 1
            time.sleep(0.05)
    _send(connection, {"argv": ["-f", connection_file, *arguments], "cwd": os.getcwd(), "env": dict(os.environ)})
    while True:
        message = _receive(connection)
        if message is None:
            return 1  # the server went away, and the kernel with it
        if "exit" in message:
            return int(message["exit"])


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        _serve(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "launch":
        sys.exit(_launch(sys.argv[2], sys.argv[3], sys.argv[4:]))
