"""Printing a document in parts: the joined PDF reads exactly as the document printed whole."""

from __future__ import annotations

import io

import pytest

STYLE = """<style>
@page { size: A5; margin: 15mm;
  @bottom-left { content: "a test document"; font-size: 7pt; }
  @bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 7pt; } }
.section { page-break-before: always; }
</style>"""


def _document(sections: int = 5) -> str:
    body = ["<h1>Title</h1><p>Opening words.</p>"]
    for number in range(1, sections + 1):
        rows = "".join(f"<tr><td>row {number}.{r}</td><td>{r * number}</td></tr>" for r in range(12 * number))
        body.append(f'<h2 class="section">Section {number}</h2><p>Text of section {number}.</p><table>{rows}</table>')
    return f"<html><head><title>Parts</title>{STYLE}</head><body>{''.join(body)}</body></html>"


def _pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def test_documents_are_cut_only_before_sections_and_lose_nothing():
    from workbench.reports._pdf import split_at_sections

    html = _document()
    parts = split_at_sections(html, 2)
    assert len(parts) == 2
    body = html[html.index("<body>") + 6 : html.rindex("</body>")]
    bodies = [p[p.index("<body>") + 6 : p.rindex("</body>")] for p in parts]
    assert "".join(bodies) == body
    assert bodies[1].startswith('<h2 class="section">')
    assert all(p.startswith(html[: html.index("<body>")]) for p in parts)  # each keeps title and styles
    # sections of 12, 24, 36, 48 and 60 rows: 72 rows before section 4 is nearest to half of 180
    assert "Section 3" in bodies[0] and bodies[1].startswith('<h2 class="section">Section 4')
    without_sections = "<html><head></head><body><p>one page</p></body></html>"
    assert split_at_sections(without_sections, 2) == [without_sections]


def test_a_document_printed_in_parts_reads_as_printed_whole(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from workbench.reports._pdf import join_numbered, pdf_bytes, print_parts

    html = _document()
    whole = _pages(pdf_bytes(html))
    with ThreadPoolExecutor(2) as pool:
        printed = [future.result() for future in print_parts(html, 2, pool)]
    assert len(printed) == 2
    joined = join_numbered(html, printed, tmp_path / "joined.pdf")
    parts = _pages(joined.read_bytes())
    assert len(whole) > 4
    assert parts == whole  # same pages, same text, same "page N of M" footers


@pytest.mark.parametrize("parts", [1, 3])
def test_any_number_of_parts_gives_the_same_pages(tmp_path, parts):
    from concurrent.futures import ThreadPoolExecutor

    from workbench.reports._pdf import join_numbered, pdf_bytes, print_parts

    html = _document(4)
    with ThreadPoolExecutor(2) as pool:
        printed = [future.result() for future in print_parts(html, parts, pool)]
    assert len(printed) == parts
    assert _pages(join_numbered(html, printed, tmp_path / "p.pdf").read_bytes()) == _pages(pdf_bytes(html))
