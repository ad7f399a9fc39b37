"""Start-up costs the workbench does not pay until something needs them.

``jsonschema`` (imported by ``nbformat``, hence by Papermill and nbconvert) registers an IRI format checker
from ``rfc3987_syntax`` when that package is installed (JupyterLab's event schemas pull it in). Importing
``rfc3987_syntax`` compiles an Earley grammar with Lark: about 2.5 s of one core, in every command that reads
or runs a notebook, for a format no notebook schema uses. :func:`defer_iri_grammar` puts a stand-in module
in its place that loads the real one on the first IRI check, so the checker still works when it is needed.
"""

from __future__ import annotations

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
    stand_in = types.ModuleType(_MODULE, "loads the real module on first use (see workbench._startup)")
    stand_in.is_valid_syntax = _is_valid_syntax
    sys.modules[_MODULE] = stand_in
