"""Model kinds as data: every name a kind declares resolves, the spec refuses another kind's keys naming key and
kind, and no code, template or notebook outside ``workbench/kinds`` branches on the kind."""

from __future__ import annotations

import ast
import re

import pytest
import yaml
from conftest import ROOT

from workbench.spec import SpecError, parse_spec

PARAMS = ROOT / "notebooks" / "params"


def test_every_name_a_kind_declares_resolves():
    from workbench.decision import rule_names
    from workbench.kinds import KINDS, SECTIONS
    from workbench.monitoring import METRICS
    from workbench.validation import TESTS

    assert {"credit", "fraud", "propensity"} <= set(KINDS)
    templates = ROOT / "workbench" / "reports" / "templates"
    declared = {name for t in TESTS.values() for name, _ in t.headline}
    for kind in KINDS.values():
        assert kind.decision in rule_names(), kind.name
        for pattern in kind.tests:  # each pattern names at least one registered test
            assert any(
                kind.judges(t) and re.fullmatch(pattern.replace(".", r"\.").replace("*", ".*"), t) for t in TESTS
            ), pattern
        judged = [t for t in TESTS if kind.judges(t)]
        headline_sources = {name for t in judged for name, _ in TESTS[t].headline}
        assert set(kind.headline) <= headline_sources, (kind.name, set(kind.headline) - headline_sources)
        assert set(kind.headline) <= declared
        for section in SECTIONS:
            assert (templates / kind.template(section)).is_file(), kind.template(section)
        assert set(kind.monitoring) <= set(METRICS), (kind.name, set(kind.monitoring) - set(METRICS))
    # every registered test judges at least one kind (a test no kind takes would never run)
    assert not [t for t in TESTS.values() if not t.kinds]


def test_no_kind_branches_outside_the_kind_modules():
    found = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        if "kinds" in path.relative_to(ROOT / "workbench").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Compare) and re.search(
                r"\bspec\.kind\b|\bkind\b.*['\"](credit|fraud|propensity)['\"]", ast.unparse(node)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    for path in sorted((ROOT / "workbench" / "reports" / "templates").rglob("*.j2")) + sorted(
        (ROOT / "notebooks").glob("*.ipynb")
    ):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if re.search(r"kind\s*[!=]=", line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert not found, "branches on the model kind outside workbench/kinds:\n" + "\n".join(found)


def _set(section: str, **values):
    return lambda d: d[section].update(values)


GERMAN, FRAUD, CARAVAN = "german_credit.yaml", "card_fraud.yaml", "caravan_propensity.yaml"
COSTS = {"approve_adverse": 3, "decline_good": 1}


def only(key: str, owner: str, kind: str) -> str:
    return f"{key}: only for kind: {owner} (not a key of a {kind} model)"


@pytest.mark.parametrize(
    ("spec_file", "change", "message"),
    [
        (GERMAN, _set("decision", contact_share=0.2), only("decision.contact_share", "propensity", "credit")),
        (CARAVAN, _set("decision", alert_rate=0.01), only("decision.alert_rate", "fraud", "propensity")),
        (CARAVAN, _set("decision", costs=COSTS), only("decision.costs", "credit", "propensity")),
        (FRAUD, _set("decision", value=100.0), only("decision.value", "propensity", "fraud")),
        (CARAVAN, lambda d: d["decision"].pop("value"), "decision.value: a propensity model names the value"),
        (CARAVAN, lambda d: d.update(kind="marketing"), "kind: 'marketing' is not a model kind"),
        (CARAVAN, lambda d: d["fairness"]["basis"].update(income="x"), "fairness.basis.income: 'income' is not a"),
        (CARAVAN, lambda d: d["decision"].update(contact_share=None, value=5.0), "decision.value: 5.0 is not above"),
    ],
)  # fmt: skip
def test_a_key_that_makes_no_sense_for_the_kind_is_refused_naming_key_and_kind(spec_file, change, message):
    data = yaml.safe_load((PARAMS / spec_file).read_text("utf-8"))
    change(data)
    with pytest.raises(SpecError) as error:
        parse_spec(data)
    assert message in str(error.value)


def test_the_shipped_specs_select_their_kinds():
    from workbench.kinds import kind_of
    from workbench.spec import load_spec

    kinds = {p.stem: kind_of(load_spec(p)).name for p in PARAMS.glob("*.yaml")}
    assert kinds["german_credit"] == "credit" and kinds["card_fraud"] == "fraud"
    assert kinds["caravan_propensity"] == "propensity"
