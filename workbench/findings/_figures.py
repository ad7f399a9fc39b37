"""Figures and tables in the form evidence is logged: PNG bytes and JSON-ready records.

Figures are built on :class:`matplotlib.figure.Figure` directly, as matplotlib recommends for code that
renders to files (its "embedding in a web application server" guide): no pyplot, no global backend, nothing
shown in the notebook that made it, and no ``matplotlib.use`` at import time.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """A figure and its axes, like ``pyplot.subplots`` but without pyplot's global state.

    ``figsize`` goes to the figure; every other keyword (``sharex``, ``squeeze``, ...) to ``Figure.subplots``.
    """
    figure = Figure(figsize=kwargs.pop("figsize", None))
    return figure, figure.subplots(nrows, ncols, **kwargs)


def figure_png(figure: Figure) -> bytes:
    """Render a figure to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def plain(value: Any) -> Any:
    """A value with numpy scalars as Python numbers and non-finite floats as None (JSON-ready)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def table_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready records (NaN becomes null)."""
    clean = table.replace({np.nan: None})
    return [plain(row) for row in clean.to_dict(orient="records")]
