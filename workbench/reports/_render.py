"""Rendering documents: Jinja2 templates to HTML, WeasyPrint to PDF, nbconvert for code-free notebooks."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

#: tables of at most this many columns are narrow: a long one is shown as two halves side by side
NARROW_COLUMNS = 3
#: ... and no cell holds more characters than this (longer texts need the full width)
NARROW_TEXT = 32
#: a cell of one word up to this long is kept on one line (identifiers, statuses, dates)
TOKEN_LENGTH = 28
#: rows each half of a paired table holds at least
PAIRED_MIN_ROWS = 4

#: a column of the fitted design matrix, as scikit-learn's ColumnTransformer names it
_DESIGN_COLUMN = re.compile(r"^(numeric|categorical)__(.+)$")


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 10**-digits or abs(value) >= 1e6):
            return f"{value:.{digits}g}"
        return f"{value:,.{digits}f}"
    return str(value)


def readable_term(value: Any, categorical: Iterable[str] = ()) -> Any:
    """A design-matrix column as a reader names it: ``duration_months``, ``purpose = radio/TV``.

    ``categorical__purpose_radio/TV`` is the one-hot column of level ``radio/TV`` of feature ``purpose``; the
    longest categorical feature name that prefixes it wins (a feature name may itself hold underscores).
    """
    if not isinstance(value, str):
        return value
    match = _DESIGN_COLUMN.match(value)
    if match is None:
        return value
    kind, rest = match.groups()
    if kind == "categorical":
        for name in sorted(categorical, key=len, reverse=True):
            if rest.startswith(f"{name}_"):
                return f"{name} = {rest[len(name) + 1 :]}"
    return rest


def _cell_class(value: Any, text: str) -> str:
    """``num`` for numbers (right-aligned, never wrapped), ``token`` for a short word such as an identifier or a
    status (never broken: ``mark_under_review`` stays searchable), ``long`` for running text holding a word longer
    than that (a hash: broken anywhere), nothing for running text (wraps)."""
    if isinstance(value, int | float):
        return "num"
    if len(text) <= TOKEN_LENGTH and not any(c.isspace() for c in text):
        return "token"
    if any(len(word) > TOKEN_LENGTH for word in text.split()):
        # a hash or run id inside running text: it may break anywhere, or it alone would set the column's width
        return "long"
    return ""


def html_table(
    data: pd.DataFrame | list[dict[str, Any]] | None,
    max_rows: int = 25,
    digits: int = 3,
    columns: list[str] | None = None,
    categorical: Iterable[str] = (),
) -> Markup:
    """A table as HTML, numbers rounded, design-matrix columns named readably, long tables cut with a note."""
    if data is None:
        return Markup("")
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if columns:
        frame = frame[[c for c in columns if c in frame.columns]]
    if frame.empty:
        return Markup("<p class='note'>(no rows)</p>")
    shown = frame.head(max_rows)
    head = "".join(f"<th>{Markup.escape(str(c)).replace('_', ' ')}</th>" for c in shown.columns)
    rows = []
    categorical = list(categorical)
    longest = max(len(str(c)) for c in shown.columns)
    for record in shown.to_dict(orient="records"):
        texts = [(v, _number(readable_term(v, categorical), digits)) for v in record.values()]
        longest = max(longest, *(len(t) for _, t in texts))
        cells = "".join(f"<td class='{_cell_class(v, t)}'>{Markup.escape(t)}</td>" for v, t in texts)
        rows.append(f"<tr>{cells}</tr>")
    note = (
        f"<p class='note'>{len(frame) - max_rows} more rows in the logged evidence.</p>"
        if len(frame) > max_rows
        else ""
    )
    if len(shown.columns) <= NARROW_COLUMNS and longest <= NARROW_TEXT and len(rows) >= 2 * PAIRED_MIN_ROWS:
        # a narrow, long table reads as two halves side by side: half the height, nothing cut
        half = (len(rows) + 1) // 2
        halves = "".join(  # no whitespace between the halves: inline tables would be pushed apart
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(part)}</tbody></table>"
            for part in (rows[:half], rows[half:])
        )
        return Markup(f"<div class='paired'>{halves}</div>{note}")
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}")


@pass_context
def _table(
    context: Context, data: Any, max_rows: int = 25, digits: int = 3, columns: list[str] | None = None
) -> Markup:
    spec = context.get("spec")
    categorical = spec.features.categorical if spec is not None else ()
    return html_table(data, max_rows=max_rows, digits=digits, columns=columns, categorical=categorical)


def environment() -> Environment:
    """The Jinja2 environment with the document filters.

    Every value is HTML-escaped (the templates end in ``.html.j2``): spec texts, finding details and audit
    reasons are written by people and must print as text, never as markup.
    """
    env = Environment(
        loader=PackageLoader("workbench.reports", "templates"),
        autoescape=select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["table"] = _table
    env.filters["num"] = _number
    env.filters["pct"] = lambda v, d=1: "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}%}"
    return env


def render_html(template: str, context: dict[str, Any]) -> str:
    """Render one document template."""
    return environment().get_template(template).render(**context)


def pdf_bytes(html: str) -> bytes:
    """The HTML printed by WeasyPrint (figures are inline data URIs, so nothing is fetched)."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def write_pdf(html: str, path: Path) -> Path:
    """Print the HTML to a PDF file with WeasyPrint."""
    path.write_bytes(pdf_bytes(html))
    return path


def notebook_html(notebook: Path, output: Path) -> Path:
    """An executed notebook as committee-readable HTML: outputs only, no code."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    output.write_text(body, encoding="utf-8")
    return output
