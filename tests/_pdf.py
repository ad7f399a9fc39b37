"""Reading generated PDFs as a reader sees them: the text of each page, and any word printed off the page."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
#: page sizes added on each side of a page before reading its words (a table can run several widths off)
EXTENT = 5

_WORD = re.compile(r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">(.*?)</word>')


def page_texts(pdf: Path) -> list[str]:
    """Each page's text, in order."""
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(pdf).pages]


def _uncropped(pdf: Path, folder: Path) -> tuple[Path, list[tuple[float, float, float, float]]]:
    """A copy whose pages extend ``EXTENT`` page sizes beyond the original on every side, and the original boxes.

    pdftotext only reports words inside a page's box, so a word printed wholly off the page would go unseen;
    on the enlarged copy every word is reported, with its coordinates relative to the new box.
    """
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import RectangleObject

    reader = PdfReader(pdf)
    writer = PdfWriter()
    boxes = []
    for page in reader.pages:
        left, bottom, right, top = (float(v) for v in page.mediabox)
        width, height = right - left, top - bottom
        boxes.append((left, bottom, width, height))
        page.mediabox = RectangleObject(
            [left - EXTENT * width, bottom - EXTENT * height, right + EXTENT * width, top + EXTENT * height]
        )
        page.cropbox = page.mediabox
        writer.add_page(page)
    copy = folder / "uncropped.pdf"
    with copy.open("wb") as out:
        writer.write(out)
    return copy, boxes


def words_outside_page(pdf: Path, margin: float = 0.0) -> list[tuple[int, str, float, float]]:
    """(page, word, left, right) of every word whose box reaches beyond its page (or into ``margin`` points of it).

    poppler's ``pdftotext -bbox`` gives each word's box as printed, so a word cut by the page edge or printed
    wholly off it is found wherever it comes from (a wide table, a long unbreakable name, a figure caption).
    """
    if shutil.which("pdftotext") is None:
        raise RuntimeError("pdftotext is missing: install Debian's poppler-utils (.ci/run does)")
    with tempfile.TemporaryDirectory() as folder:
        copy, boxes = _uncropped(pdf, Path(folder))
        html = subprocess.run(["pdftotext", "-bbox", str(copy), "-"], capture_output=True, text=True, check=True)
    outside = []
    for number, ((_, _, body), (_, _, width, height)) in enumerate(
        zip(_PAGE.findall(html.stdout), boxes, strict=True), start=1
    ):
        for match in _WORD.finditer(body):
            # coordinates on the enlarged page, whose original lies EXTENT widths right and heights down
            x0, y0, x1, y1 = (float(v) for v in match.groups()[:4])
            x0, x1 = x0 - EXTENT * width, x1 - EXTENT * width
            y0, y1 = y0 - EXTENT * height, y1 - EXTENT * height
            if x0 < margin or y0 < margin or x1 > width - margin or y1 > height - margin:
                outside.append((number, match.group(5), round(x0, 1), round(x1, 1)))
    return outside
