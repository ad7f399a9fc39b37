"""Notebook kernels forked from a server that imported the stack once: own process, own namespace, no leaks."""

from __future__ import annotations

import os

import nbformat
import pytest
from conftest import poll


def _notebook(path, *sources: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    notebook.metadata["language_info"] = {"name": "python"}
    parameters = nbformat.v4.new_code_cell("marker = ''")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, *(nbformat.v4.new_code_cell(s) for s in sources)]
    nbformat.write(notebook, path)


def _printed(path) -> list[str]:
    cells = nbformat.read(path, 4).cells
    text = "".join(o["text"] for c in cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    return text.split()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (ended, not yet collected) counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _gone(pid: int, timeout: float = 10.0) -> bool:
    return poll(lambda: not _alive(pid), timeout=timeout, interval=0.05)


@pytest.mark.e2e
def test_forked_kernels_have_the_imports_but_their_own_process_and_namespace(tmp_path, monkeypatch):
    from workbench._kernels import KernelForkServer, shutdown
    from workbench.pipeline import SuiteError, execute_with_kernel

    folder = tmp_path / "notebooks"
    folder.mkdir()
    probe = (
        "import os, sys\nprint(os.getpid(), os.getppid(), 'workbench.validation' in sys.modules, "
        "'leaked' in globals())\nleaked = 1"
    )
    _notebook(folder / "a.ipynb", probe)
    _notebook(folder / "b.ipynb", probe)
    _notebook(folder / "c.ipynb", "raise ValueError('stop here: ' + marker)")
    monkeypatch.setenv("WORKBENCH_NOTEBOOKS", str(folder))
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    server = KernelForkServer(tmp_path)
    try:
        first = execute_with_kernel("a.ipynb", tmp_path / "out", {}, server.start_kernel)
        second = execute_with_kernel("b.ipynb", tmp_path / "out", {}, server.start_kernel)
        pid_a, parent_a, *flags_a = _printed(first)
        pid_b, parent_b, *flags_b = _printed(second)
        assert pid_a != pid_b  # a kernel per notebook
        assert parent_a == parent_b == str(server.process.pid)  # both forked by the server
        assert flags_a == flags_b == ["True", "False"]  # the stack already imported; nothing left by a
        assert _gone(int(pid_a)) and _gone(int(pid_b))  # each stopped once its notebook was done
        with pytest.raises(SuiteError, match="c.ipynb stopped: ValueError: stop here: x"):
            execute_with_kernel("c.ipynb", tmp_path / "out", {"marker": "x"}, server.start_kernel)
        kernel = server.start_kernel()  # a kernel left running stops with the server
        client = kernel.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        printed = []

        def keep(message):
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])

        reply = client.execute_interactive("import os; print(os.getpid())", timeout=60, output_hook=keep)
        assert reply["content"]["status"] == "ok"
        client.stop_channels()
        running, launcher = int("".join(printed)), kernel.provisioner.process.pid
        assert _alive(running) and _alive(launcher)
    finally:
        server.close()
    assert _gone(running) and _gone(launcher)
    shutdown([kernel])


@pytest.mark.e2e
def test_a_server_that_cannot_import_says_so(tmp_path):
    from workbench._kernels import KernelForkServer

    server = KernelForkServer(tmp_path, warm="import no_such_module_here")
    try:
        with pytest.raises(RuntimeError, match="kernel server stopped"):
            server.wait_ready(timeout=60)
    finally:
        server.close()


@pytest.mark.e2e
def test_without_fork_the_kernels_are_ordinary_ones(tmp_path, monkeypatch):
    import workbench._kernels as kernels
    from workbench.pipeline import execute_with_kernel

    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "a.ipynb", "import sys\nprint('workbench.validation' in sys.modules)")
    monkeypatch.setenv("WORKBENCH_NOTEBOOKS", str(folder))
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.setattr(kernels, "fork_supported", lambda: False)
    with kernels.kernel_source(tmp_path) as new_kernel:
        executed = execute_with_kernel("a.ipynb", tmp_path / "out", {}, new_kernel)
    assert _printed(executed) == ["False"]  # a kernel of its own making, nothing imported ahead
