"""Notebook kernels started ahead of need, so their start-up overlaps the command's own work.

A validator's notebook kernel spends most of its first cell starting Python and importing the validation
stack (about 8 s on two cores), while the command that launches it spends its first seconds importing MLflow
and checking the user and the version on one core. Starting the kernels first and asking them to import the
stack at once puts the idle core to work; the notebooks then find the modules already loaded. This module
imports nothing heavy, so a command can call it before its own imports.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KERNEL_QUIET = "--IPKernelApp.log_level=CRITICAL"

#: what the validator's notebooks import first, plus what their first cell loads on first use (MLflow's
#: SQL store, the skops loader: together about 3.5 s); imported by a warming kernel before any notebook
VALIDATION_IMPORTS = (
    "import workbench.notebook, workbench.validation, workbench.validation._interactive, "
    "workbench.fairness, workbench.fairness._evaluate, workbench.explain, workbench.registry, "
    "mlflow.sklearn, mlflow.store.tracking.sqlalchemy_store, mlflow.store.model_registry.sqlalchemy_store, skops.io"
)


def kernel_environment(root: Path) -> None:
    """Make kernels use this interpreter and see the same registry and project root."""
    bin_dir = str(Path(sys.executable).parent)
    if not os.environ.get("PATH", "").startswith(bin_dir):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("WORKBENCH_HOME", str(root))


def start_kernel(root: Path, warm: str | None = None):
    """Start a Python kernel in ``root``; with ``warm``, send it that code to run before anything else.

    Returns the ``jupyter_client`` kernel manager. The warm-up runs in the kernel while the caller goes on;
    call :func:`await_warm_up` before sending it a notebook.
    """
    from jupyter_client.manager import KernelManager

    kernel_environment(root)
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(root), extra_arguments=[KERNEL_QUIET])
    if warm:
        client = manager.client()
        client.start_channels()
        manager.warm_up = (client, client.execute(warm, silent=True, store_history=False))
    return manager


def await_warm_up(manager, timeout: float = 300.0) -> None:
    """Block until the kernel has finished its warm-up (if it had one), then close the warm-up's client.

    A notebook client must not meet a kernel that is still busy: nbclient's readiness check can miss the
    kernel's answer then and give up after its start-up timeout. Call this from the thread that will run
    the notebooks, not the one that started the kernel.
    """
    import queue
    import time

    warm_up = getattr(manager, "warm_up", None)
    if warm_up is None:
        return
    client, msg_id = warm_up
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the kernel did not finish warming up within {timeout:.0f} s")
            try:
                reply = client.get_shell_msg(timeout=remaining)
            except queue.Empty:
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return
    finally:
        client.stop_channels()
        manager.warm_up = None


def shutdown(kernels: list) -> None:
    """Stop kernels and their warm-up clients (already stopped ones are skipped)."""
    for manager in kernels:
        warm_up = getattr(manager, "warm_up", None)
        if warm_up is not None:
            warm_up[0].stop_channels()
        try:
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
        except Exception:  # a kernel that died on its own leaves nothing to stop
            pass


@contextmanager
def warmed_kernels(count: int, root: Path, warm: str | None = VALIDATION_IMPORTS) -> Iterator[list]:
    """``count`` kernels started now and warming up; stopped on exit."""
    kernels = []
    try:
        for _ in range(count):
            kernels.append(start_kernel(root, warm))
        yield kernels
    finally:
        shutdown(kernels)
