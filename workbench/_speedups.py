"""The workbench's only interpreter-level speed-ups, each opt-in (called by name) and measured.

* :func:`defer_iri_grammar`: ``import papermill`` 4.3-6.4 s -> 1.0-2.4 s (three runs on 2 loaded cores).
* :func:`skip_final_garbage_collection`: the ``workbench`` command's exit, 1.7 s -> 0.1 s after ``run``.

Deferring an IRI grammar

``jsonschema`` (imported by ``nbformat``, hence by Papermill and nbconvert) registers an IRI format checker
from ``rfc3987_syntax`` when that package is installed (JupyterLab's event schemas pull it in). Importing
``rfc3987_syntax`` compiles an Earley grammar with Lark: about 2.5 s of one core, in every command that reads
or runs a notebook, for a format no notebook schema uses. :func:`defer_iri_grammar` puts a stand-in module
in its place that loads the real one on the first IRI check, so the checker still works when it is needed.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import sys
import types

_MODULE = "rfc3987_syntax"


def _load_real() -> types.ModuleType:
    stand_in = sys.modules.pop(_MODULE, None)
    try:
        return importlib.import_module(_MODULE)
    except BaseException:
        if stand_in is not None:
            sys.modules[_MODULE] = stand_in
        raise


def _is_valid_syntax(term: str, value: str) -> bool:
    """The real ``rfc3987_syntax.is_valid_syntax``, loaded on first use."""
    return _load_real().is_valid_syntax(term, value)


def defer_iri_grammar() -> None:
    """Defer ``rfc3987_syntax``'s grammar compilation to its first use; call before importing ``jsonschema``.

    Does nothing when the module is already imported or not installed, or when ``jsonschema`` was imported
    before (its checkers are bound by then).
    """
    if _MODULE in sys.modules or "jsonschema" in sys.modules or importlib.util.find_spec(_MODULE) is None:
        return
    stand_in = types.ModuleType(_MODULE, "loads the real module on first use (see workbench._speedups)")
    stand_in.is_valid_syntax = _is_valid_syntax
    sys.modules[_MODULE] = stand_in


def skip_final_garbage_collection() -> None:
    """Let the interpreter exit as usual (threads joined, exit handlers run, streams flushed) without its
    final garbage collections over everything the command imported (MLflow, pandas, scikit-learn, Jupyter).

    Measured on 2 busy cores, from a command's last output line to the end of its process: ``workbench run``
    1.7 s without this, 0.10 s with it; ``workbench validate`` 2.2 s and 0.11 s; ``workbench users list``
    0.57 s and 0.05 s. Only this entry point does it: ``app`` called in-process (tests) exits as usual.
    ``gc.freeze`` moves every tracked object to the permanent generation, which no collection examines, so
    objects caught in reference cycles are not finalised at exit; everything a command records is committed
    before it returns.
    """
    gc.freeze()
