"""Notebooks sharing a kernel: one process, imports kept, nothing one notebook defined visible to the next."""

from __future__ import annotations

import nbformat
import pytest


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


@pytest.mark.e2e
def test_notebooks_in_one_kernel_share_the_process_not_the_namespace(tmp_path, monkeypatch):
    from workbench._kernels import start_kernel, warmed_kernels
    from workbench.pipeline import SuiteError, execute_in_one_kernel

    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "a.ipynb", "import os, sys\nleaked = 1\nprint(os.getpid())")
    _notebook(
        folder / "b.ipynb",
        "import os, sys\nprint(os.getpid())\nprint('leaked' in globals(), 'workbench.validation' in sys.modules)",
    )
    _notebook(folder / "c.ipynb", "raise ValueError('stop here: ' + marker)")
    monkeypatch.setenv("WORKBENCH_NOTEBOOKS", str(folder))
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    with warmed_kernels(1, tmp_path) as kernels:  # warmed: the validation stack is imported before a, b run
        first, second = execute_in_one_kernel(["a.ipynb", "b.ipynb"], tmp_path / "out", {}, kernel=kernels[0])
        assert not kernels[0].has_kernel  # stopped once its notebooks are done
    pid = _printed(first)[0]
    assert _printed(second) == [pid, "False", "True"]
    with pytest.raises(SuiteError, match="c.ipynb stopped: ValueError: stop here: x"):
        execute_in_one_kernel(["c.ipynb"], tmp_path / "out", {"marker": "x"}, kernel=start_kernel(tmp_path))
