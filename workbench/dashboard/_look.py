"""How the approval app looks: one palette, outcome colours and tables whose columns fit the page.

Kept apart from the app's logic so every table (inventory, evidence, findings, audit log, monitoring) is
drawn the same way: Tabulator fits its columns to the width it is given and wraps long text instead of
pushing columns off-screen, and an outcome reads the same colour wherever it appears.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import panel as pn

__all__ = ["ACCENT", "TONES", "table", "tone", "tone_style"]

ACCENT = "#1f4e79"

#: background and text colour of each tone
TONES: dict[str, tuple[str, str]] = {
    "good": ("#e3f4e8", "#1b5e20"),
    "bad": ("#fde2e1", "#8e1b1b"),
    "warn": ("#fff4d6", "#7a5300"),
    "muted": ("#eef1f4", "#4a5563"),
}

_TONE_OF = {
    **dict.fromkeys(("pass", "passed", "approved", "validated", "accepted", "concluded", "production"), "good"),
    **dict.fromkeys(("fail", "failed", "rejected", "refused", "high", "breach", "missing", "changed"), "bad"),
    **dict.fromkeys(
        ("warn", "warning", "findings open", "findings_open", "under_review", "medium", "challenger"), "warn"
    ),
    **dict.fromkeys(("skipped", "archived", "low", "development", "not assessed"), "muted"),
}


#: compact rows and a smaller type than the page's, so a table's columns fit the width without clipping
TABLE_CSS = """
.tabulator, .tabulator-row, .tabulator-row .tabulator-cell { font-size: 13px !important; }
.tabulator .tabulator-header .tabulator-col .tabulator-col-content { padding: 4px 6px; }
.tabulator .tabulator-header .tabulator-col .tabulator-col-title { font-size: 12.5px; }
.tabulator-row .tabulator-cell { padding: 4px 6px; }
"""


def tone(value: object) -> str | None:
    """The tone of an outcome, status or severity (``None``: not an outcome)."""
    return _TONE_OF.get(str(value).strip().lower()) if isinstance(value, str) else None


def tone_style(value: object) -> str:
    """CSS for a table cell holding ``value``."""
    found = tone(value)
    if found is None:
        return ""
    background, colour = TONES[found]
    return f"background-color: {background}; color: {colour}; font-weight: bold"


def table(
    frame: pd.DataFrame,
    *,
    height: int | None = None,
    coloured: Iterable[str] = ("outcome", "status", "severity", "validation_outcome"),
    wrap: Iterable[str] = (),
    widths: dict[str, int | str] | None = None,
    page_size: int | None = None,
    name: str | None = None,
    layout: str = "fit_columns",
) -> pn.widgets.Tabulator:
    """A read-only table that fits the page: columns share the width, ``wrap`` columns wrap their text,
    outcome-like columns are coloured; with ``page_size`` long tables page instead of scrolling forever.
    ``layout="fit_data_stretch"`` suits tables of short values (each column as wide as its longest value)."""
    wrap = [c for c in wrap if c in frame.columns]
    options = {
        "disabled": True,
        "show_index": False,
        "sizing_mode": "stretch_width",
        "layout": layout,
        "stylesheets": [TABLE_CSS],
        "formatters": {c: {"type": "textarea"} for c in wrap},
        "widths": dict(widths or {}),
        "header_align": "left",
    }
    if name is not None:
        options["name"] = name
    if page_size is not None and len(frame) > page_size:
        options.update(pagination="local", page_size=page_size)
    elif height is not None:
        options["height"] = height
    grid = pn.widgets.Tabulator(frame, **options)
    present = [c for c in coloured if c in frame.columns]
    if present:
        grid.style.map(tone_style, subset=present)
    return grid
