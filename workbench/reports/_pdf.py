"""Printing a long document on several cores: cut at forced page breaks, print the parts, join, number pages.

WeasyPrint lays out a document on one core; the SR 11-7 document (about 28 pages and 2,000 table cells)
takes most of the documentation step. Its sections start on a new page, so cutting the HTML right before a
section gives parts that paginate exactly as the whole does. Each part is printed without page numbers, the
parts are joined with pypdf, and a numbers-only overlay printed for the final page count ("page N of M",
styled by the document's own ``@page`` rule) is stamped onto each page.
"""

from __future__ import annotations

import io
import re
from concurrent.futures import Executor, Future
from pathlib import Path

#: elements that begin with a forced page break in the document templates (``.section`` in style.css)
_SECTION_START = re.compile(r'<(?:h2|div) class="section">')
#: laying out a table cell costs about as much as this many characters of running text
_CELL_WEIGHT = 40
#: the parts print without page numbers; the overlay prints nothing else
_WITHOUT_NUMBERS = "<style>@page { @bottom-right { content: none; } }</style>"
_NUMBERS_ONLY = "<style>@page { @bottom-left { content: none; } }</style>"


def _weight(html: str) -> int:
    return len(re.sub(r"<[^>]+>", "", html)) + _CELL_WEIGHT * html.count("<td")


def split_at_sections(html: str, parts: int) -> list[str]:
    """The document as up to ``parts`` standalone documents cut before sections, of about equal layout work.

    Each part keeps the whole ``<head>`` (title, styles); a document without sections stays whole.
    """
    body_start = html.index("<body>") + len("<body>")
    body_end = html.rindex("</body>")
    head, body, tail = html[:body_start], html[body_start:body_end], html[body_end:]
    starts = [m.start() for m in _SECTION_START.finditer(body)]
    # layout work before each possible cut, summed once over the stretches between cuts
    before, total = [], 0
    for a, b in zip([0, *starts], [*starts, len(body)], strict=True):
        before.append(total)
        total += _weight(body[a:b])
    weight_before = dict(zip(starts, before[1:], strict=True))
    cuts: list[int] = []
    for k in range(1, parts):
        candidates = [s for s in starts if not cuts or s > cuts[-1]]
        if not candidates:
            break
        cuts.append(min(candidates, key=lambda s: abs(weight_before[s] - total * k / parts)))
    bounds = [0, *cuts, len(body)]
    return [head + body[a:b] + tail for a, b in zip(bounds, bounds[1:], strict=False) if body[a:b].strip()]


def _with_style(html: str, style: str) -> str:
    at = html.index("</head>")
    return html[:at] + style + html[at:]


def pdf_bytes(html: str) -> bytes:
    """One HTML document printed by WeasyPrint (figures are inline data URIs, so nothing is fetched)."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def _page_numbers(html: str, pages: int) -> bytes:
    """``pages`` blank pages carrying only the document's page-number footer."""
    head = html[: html.index("<body>")]
    blank_pages = "<div></div>" + '<div style="break-before: page"></div>' * (pages - 1)
    return pdf_bytes(_with_style(head, _NUMBERS_ONLY) + f"<body>{blank_pages}</body></html>")


def join_numbered(html: str, printed_parts: list[bytes], path: Path) -> Path:
    """Join printed parts of ``html`` in order, stamp "page N of M" on each page, write to ``path``."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    readers = [PdfReader(io.BytesIO(data)) for data in printed_parts]
    for reader in readers:
        writer.append(reader)
    numbers = PdfReader(io.BytesIO(_page_numbers(html, len(writer.pages))))
    for page, number in zip(writer.pages, numbers.pages, strict=True):
        page.merge_page(number)
        page.compress_content_streams()  # merging leaves the page's content uncompressed
    if readers[0].metadata:
        writer.add_metadata({k: v for k, v in readers[0].metadata.items() if isinstance(v, str)})
    with path.open("wb") as out:
        writer.write(out)
    return path


def print_parts(html: str, parts: int, printers: Executor) -> list[Future]:
    """Start printing ``html`` in up to ``parts`` parts on ``printers``; each future gives a part's PDF."""
    return [printers.submit(pdf_bytes, _with_style(part, _WITHOUT_NUMBERS)) for part in split_at_sections(html, parts)]
