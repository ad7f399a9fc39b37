"""The approval app's tables: outcomes coloured one way everywhere, columns fitted, the audit log complete."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.dashboard._data import audit_log
from workbench.dashboard._look import TONES, table, tone, tone_style


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("approved", "good"),
        ("validated", "good"),
        ("concluded", "good"),
        ("pass", "good"),
        ("accepted", "good"),
        ("rejected", "bad"),
        ("failed", "bad"),
        ("fail", "bad"),
        ("refused", "bad"),
        ("missing", "bad"),
        ("warn", "warn"),
        ("findings open", "warn"),
        ("under_review", "warn"),
        ("skipped", "muted"),
        ("Approved ", "good"),
        ("german_credit", None),
        (3, None),
    ],
)
def test_each_outcome_has_one_tone(value, expected):
    assert tone(value) == expected
    if expected is None:
        assert tone_style(value) == ""
    else:
        background, colour = TONES[expected]
        assert tone_style(value) == f"background-color: {background}; color: {colour}; font-weight: bold"


def test_a_table_fits_its_columns_wraps_long_text_and_colours_outcomes():
    frame = pd.DataFrame(
        {"test": ["auc", "ks", "vif"], "outcome": ["pass", "fail", "warn"], "reason": ["x " * 80, "y", "z"]}
    )
    grid = table(frame, height=200, wrap=("reason", "absent"), widths={"test": 120})
    assert grid.layout == "fit_columns" and grid.sizing_mode == "stretch_width"
    assert grid.formatters == {"reason": {"type": "textarea"}}  # wrapped, not cut; unknown columns ignored
    assert grid.widths == {"test": 120} and grid.disabled and not grid.show_index
    styled = grid.style.to_html()
    assert styled.count(TONES["good"][0]) == 1 and styled.count(TONES["bad"][0]) == 1
    assert styled.count(TONES["warn"][0]) == 1
    long = table(pd.DataFrame({"seq": range(60)}), page_size=25)
    assert long.pagination == "local" and long.page_size == 25


def test_the_audit_log_shows_conditions_overrides_and_refusals_newest_first(tmp_path, monkeypatch):
    from workbench.governance._audit import AuditTrail
    from workbench.governance._keys import create_key

    monkeypatch.delenv("WORKBENCH_AUDIT_KEY", raising=False)
    monkeypatch.delenv("WORKBENCH_AUDIT_KEY_FILE", raising=False)
    trail = AuditTrail(tmp_path / "registry_store" / "governance" / "audit.jsonl")
    create_key(trail.path)
    common = {"role": "approver", "target": "m/1"}
    trail.append(
        actor="helen",
        action="approve",
        reason="fit for purpose",
        before="under_review",
        after="approved",
        outcome="accepted",
        details={"conditions": "quarterly review", "override_justification": "gap accepted pending plan R-17"},
        **common,
    )
    trail.append(
        actor="helen",
        action="reject",
        reason="",
        before="approved",
        after="approved",
        outcome="refused",
        details={"refusal": "reject needs one of: development, validated"},
        **common,
    )
    log = audit_log(trail)
    assert list(log["seq"]) == [2, 1]
    assert log.iloc[1]["reason and details"] == (
        "fit for purpose\nconditions: quarterly review\noverride: gap accepted pending plan R-17"
    )
    assert log.iloc[1]["who"] == "helen (approver)" and log.iloc[1]["change"] == "under_review → approved"
    assert log.iloc[0]["reason and details"] == "refused: reject needs one of: development, validated"
    assert log.iloc[0]["change"] == "approved" and log.iloc[0]["action"] == "reject"
    assert audit_log(trail, "other").empty
