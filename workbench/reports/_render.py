"""Rendering documents: Jinja2 templates to HTML, WeasyPrint to PDF, nbconvert for code-free notebooks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup


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


def html_table(
    data: pd.DataFrame | list[dict[str, Any]] | None,
    max_rows: int = 25,
    digits: int = 3,
    columns: list[str] | None = None,
) -> Markup:
    """A table as HTML, numbers rounded, long tables cut with a note."""
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
    for record in shown.to_dict(orient="records"):
        cells = "".join(
            f"<td class='{'num' if isinstance(v, int | float) else ''}'>{Markup.escape(_number(v, digits))}</td>"
            for v in record.values()
        )
        rows.append(f"<tr>{cells}</tr>")
    note = (
        f"<p class='note'>{len(frame) - max_rows} more rows in the logged evidence.</p>"
        if len(frame) > max_rows
        else ""
    )
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}")


def environment() -> Environment:
    """The Jinja2 environment with the document filters."""
    env = Environment(
        loader=PackageLoader("workbench.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["table"] = html_table
    env.filters["num"] = _number
    env.filters["pct"] = lambda v, d=1: "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}%}"
    return env


def render_html(template: str, context: dict[str, Any]) -> str:
    """Render one document template."""
    return environment().get_template(template).render(**context)


def write_pdf(html: str, path: Path) -> Path:
    """Print the HTML to PDF with WeasyPrint (figures are inline data URIs, so nothing is fetched)."""
    from workbench.reports._pdf import pdf_bytes

    path.write_bytes(pdf_bytes(html))
    return path


def notebook_html(notebook: Path, output: Path) -> Path:
    """An executed notebook as committee-readable HTML: outputs only, no code."""
    from workbench._speedups import defer_iri_grammar

    defer_iri_grammar()
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    output.write_text(body, encoding="utf-8")
    return output
