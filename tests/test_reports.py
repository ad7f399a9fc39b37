"""Documents as a committee reads them: escaped text, readable names, nothing off the page, the decision on page 1."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from _pdf import page_texts, words_outside_page


def test_people_s_words_print_as_text_never_as_markup():
    from workbench.reports._render import environment

    env = environment()
    assert env.autoescape("sr117.html.j2") and env.autoescape("fairness.html.j2")
    macros = env.get_template("_macros.html.j2").module
    finding = {
        "severity": "high",
        "title": "<script>alert(1)</script>",
        "detail": "a & b < c",
        "remediation": "<b>bold</b>",
        "status": "open",
    }
    html = str(macros.findings_table([finding]))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a &amp; b &lt; c" in html and "&lt;b&gt;bold&lt;/b&gt;" in html


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("numeric__duration_months", "duration_months"),
        ("categorical__purpose_radio/TV", "purpose = radio/TV"),
        # the longest categorical name that prefixes the column wins
        ("categorical__credit_history_all paid", "credit_history = all paid"),
        ("categorical__unknown_level", "unknown_level"),
        ("intercept", "intercept"),
        (0.5, 0.5),
    ],
)
def test_design_matrix_columns_are_named_as_a_reader_names_them(term, expected):
    from workbench.reports._render import readable_term

    assert readable_term(term, ["purpose", "credit", "credit_history"]) == expected


def test_a_long_narrow_table_is_shown_as_two_halves_and_a_wide_one_whole():
    import pandas as pd

    from workbench.reports import html_table

    narrow = pd.DataFrame({"feature": [f"f{i}" for i in range(12)], "value": range(12)})
    paired = str(html_table(narrow, max_rows=20))
    assert paired.startswith("<div class='paired'>") and paired.count("<table>") == 2
    assert all(f"<td class='token'>f{i}</td>" in paired for i in range(12))  # every row shown once
    assert paired.count("<tr>") == 12 + 2  # the rows and a header per half
    wide = narrow.assign(a=1, b=2)
    assert str(html_table(wide)).count("<table>") == 1
    long_text = narrow.assign(feature="a purpose sentence longer than a narrow column holds")
    assert str(html_table(long_text)).count("<table>") == 1


def _printed(tmp_path, body: str):
    from workbench.reports import write_pdf

    html = f"<html><head><style>@page {{ size: A5; margin: 12mm; }}</style></head><body>{body}</body></html>"
    return write_pdf(html, tmp_path / "probe.pdf")


def test_a_word_printed_off_the_page_is_found(tmp_path):
    """The check the document tests rely on finds a clipped table, and passes a table that fits."""
    cells = "".join(f"<td style='white-space: nowrap'>column{i}-unbreakable-content</td>" for i in range(8))
    clipped = words_outside_page(_printed(tmp_path, f"<table><tr>{cells}</tr></table>"))
    assert clipped and all(page == 1 for page, *_ in clipped)
    assert any("column7" in word for _, word, *_ in clipped)
    fits = _printed(tmp_path, "<table><tr><td>short</td><td>table</td></tr></table><p>Plain words.</p>")
    assert words_outside_page(fits) == [] and "Plain words." in page_texts(fits)[0]


def test_every_shipped_framework_maps_sections_of_the_document():
    from workbench.policy import DEFAULT_FRAMEWORKS, DOCUMENT_SECTIONS, framework_names, load_framework

    names = framework_names()
    assert {"sr11-7", "sr26-2", "eu-ai-act-annex-iv", "pra-ss1-23"} <= set(names)
    assert set(DEFAULT_FRAMEWORKS) <= set(names)
    for name in names:
        framework = load_framework(name)
        assert framework.name == name and framework.short and framework.status
        assert set(framework.sections) <= set(DOCUMENT_SECTIONS)
        assert len(framework.sections) >= 10, name  # nearly every section answers the framework somewhere
    assert "2026-04-17" == load_framework("sr26-2").issued and "SR 11-7" in load_framework("sr26-2").status
    assert "Superseded" in load_framework("sr11-7").status


def test_the_cross_reference_has_one_column_per_framework_the_spec_names(german_spec):
    from workbench.reports._build import _frameworks
    from workbench.spec import parse_spec, spec_to_dict

    data = spec_to_dict(german_spec)
    data["documentation"] = {"frameworks": ["sr26-2", "eu-ai-act-annex-iv", "pra-ss1-23"]}
    frameworks, rows = _frameworks(SimpleNamespace(spec=parse_spec(data)))
    assert [f["short"] for f in frameworks] == ["SR 26-2", "EU AI Act Annex IV", "PRA SS1/23"]
    assert len(rows) == 12 and all(len(r["cells"]) == 3 for r in rows)
    fairness = next(r for r in rows if r["section"] == "7 Fairness")
    assert "Article 10" in fairness["cells"][1]


def _version(tags: dict[str, str], outcome: str = "findings open"):
    return SimpleNamespace(tags=tags, version=3, conclusion={"outcome": outcome})


def test_page_one_states_the_committee_s_decision():
    from workbench.reports._build import _decision

    pending = _decision(_version({"status": "development"}))
    assert pending["title"] == "Awaiting approval" and "override justification" in pending["text"]
    assert "awaiting the committee" in _decision(_version({"status": "validated"}, "validated"))["text"]
    approved = _decision(
        _version(
            {
                "status": "production",
                "approved_by": "helen",
                "approval_date": "2026-11-30T10:00:00+00:00",
                "approval_conditions": "monthly fairness monitoring",
                "approval_override": "gap accepted pending plan R-17",
            }
        )
    )
    assert approved["approved"] and approved["title"] == "Approved by helen on 2026-11-30 (override)"
    assert approved["conditions"] == "monthly fairness monitoring" and approved["override"].endswith("R-17")
    assert _decision(_version({"status": "rejected", "rejected_by": "helen"}))["title"] == "Rejected by helen"
