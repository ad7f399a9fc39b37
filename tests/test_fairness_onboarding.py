"""Onboarding real credit data into the fairness analysis, on data derived from the German credit data.

Each problem met when onboarding is reproduced: a model with no protected attribute; tiny intersectional
groups (three yes/no attributes and a marital status with gaps); finding ids that repeated; missing groups
shown as "nan"; and the search for a less discriminatory alternative the fair-lending file needs.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from workbench.data import ModelData
from workbench.datasets import german_credit_path, load_german_credit
from workbench.fairness import (
    NO_PROTECTED_STATEMENT,
    TOO_FEW,
    AttributeFairness,
    approval_figure,
    assess_attribute,
    assess_fairness,
    fairness_findings,
    outcome_rates,
    search_alternatives,
)
from workbench.spec import MISSING_GROUP, SpecError, check_spec_against_data, parse_spec

SCREENED = ["sex", "foreign_worker"]


def messy_frame(seed: int = 7) -> pd.DataFrame:
    """The German data as a bank's extract with yes/no protected flags, a marital status with gaps and a proxy.

    ``marital`` is decoded from the personal-status code (women's status is undisclosed in the source, so it is
    drawn), about 6% of it is missing, ``single`` follows it (missing where it is), ``female`` is a yes/no flag
    and ``co_applicant`` (a joint application, far more common for married applicants) is a model input that
    carries marital status.
    """
    frame = load_german_credit()
    rng = np.random.default_rng(seed)
    status = frame["personal_status_sex"]
    marital = np.select(
        [status.eq("male : single"), status.eq("male : divorced/separated"), status.eq("male : married/widowed")],
        ["single", "divorced", "married"],
        default=np.where(rng.random(len(frame)) < 0.7, "married", "divorced"),
    ).astype(object)
    marital[(marital == "married") & (rng.random(len(frame)) < 0.12)] = "widowed"
    marital[rng.random(len(frame)) < 0.06] = np.nan
    married = np.isin(marital, ["married", "widowed"])
    co_applicant = np.where(rng.random(len(frame)) < np.where(married, 0.75, 0.08), "yes", "no")
    single = pd.Series(np.where(marital == "single", "yes", "no"), dtype=object).where(pd.notna(marital), np.nan)
    female = np.where(frame["sex"].eq("female"), "yes", "no")
    return frame.assign(marital=marital, co_applicant=co_applicant, single=single, female=female)


def _context(spec, data, model, split, family):
    from workbench.validation import ValidationContext

    return ValidationContext(
        spec=spec, model=model, data=data, split=split, name=spec.name, version=1, tags={"model_family": family}
    )


def _trained(spec, frame: pd.DataFrame | None = None):
    """Train the spec's model on a derived extract, or (no frame) on the shipped data as the registry loads it."""
    from workbench.data import load_model_data
    from workbench.training import train

    if frame is None:
        data = load_model_data(spec)
    else:
        check_spec_against_data(spec, frame, "extract.csv")
        data = ModelData(frame=frame, sha256="0" * 64, source="extract.csv", path=german_credit_path())
    result = train(data, spec)
    return result, _context(spec, data, result.model, result.split, result.chosen)


def _unprotected_dict(german_spec_dict: dict) -> dict:
    spec = copy.deepcopy(german_spec_dict)
    spec["name"] = "german_unprotected"
    spec["protected_attributes"] = []
    spec["fairness"] = {"screening_attributes": list(SCREENED)}
    spec["candidates"] = [{"family": "scorecard_logit"}]
    return spec


@pytest.fixture(scope="module")
def unprotected(german_spec_dict):
    """The German model trained with no protected attribute; sex and foreign_worker screened for proxies only."""
    return _trained(parse_spec(_unprotected_dict(german_spec_dict)))


@pytest.fixture(scope="module")
def messy(german_spec_dict):
    """Three yes/no protected flags and a marital status with gaps: intersections of a handful of applicants."""
    spec_dict = copy.deepcopy(german_spec_dict)
    spec_dict["name"] = "german_messy"
    spec_dict["features"]["categorical"].append("co_applicant")
    spec_dict["protected_attributes"] = [
        {"name": "foreign_worker", "reference": "no"},
        {"name": "single", "reference": "yes"},
        {"name": "female", "reference": "no"},
        {"name": "marital", "reference": "single"},
    ]
    spec_dict["candidates"] = [{"family": "scorecard_logit"}]
    _, context = _trained(parse_spec(spec_dict), messy_frame())
    report = assess_fairness(context, n_boot=200)
    alternatives = search_alternatives(context, report)
    return context, report, alternatives, fairness_findings(report, alternatives)


@pytest.fixture(scope="module")
def german_fairness(german_context):
    report = assess_fairness(german_context, n_boot=200)
    alternatives = search_alternatives(german_context, report)
    return report, alternatives, fairness_findings(report, alternatives)


def _evidence(spec, fairness: dict, figures: dict | None = None):
    """The records a document is built from, by hand: the real fairness evidence, the rest minimal."""
    from workbench.reports import Evidence

    return Evidence(
        name=spec.name,
        version=1,
        spec=spec,
        tags={"validated_by": "marco", "status": "validated", "data_sha256": "0" * 64, "split_sha256": "0" * 64},
        created="2024-06-01T00:00:00+00:00",
        training_run_id="training",
        training_params={},
        training_metrics={"n_development": 700.0, "n_validation": 300.0},
        validation_run_id="validation",
        validation_tags={},
        data_validation={"n_rows": 1000, "checks": [], "source": "extract.csv"},
        candidates=pd.DataFrame([{"family": "scorecard_logit", "cv_auc_mean": 0.77}]),
        coefficients=None,
        selection="",
        environment_lock="",
        documents={
            "fairness": fairness,
            "validation": {
                "results": [],
                "headline": {"auc": 0.77, "auc_low": 0.71, "auc_high": 0.83, "approval_rate": 0.67},
            },
            "explainability": {
                "method": "exactly",
                "top1_agreement": 1.0,
                "topk_overlap": 1.0,
                "reason_examples": [],
                "agreement": [],
            },
        },
        figures=figures or {},
        conclusion={"findings": fairness["findings"], "open_findings": {"high": 0, "medium": 0, "low": 0}},
    )


class _Text(HTMLParser):
    """The text a reader sees (an HTML parser, as the PDF printer reads it: '<25' in a label is text)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = False

    def handle_starttag(self, tag: str, attrs) -> None:
        self.skip = tag in ("style", "title")
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.skip = False
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def _documents(spec, fairness: dict, monkeypatch, tmp_path) -> tuple[str, str]:
    """The fairness report and the SR 11-7 document as plain text, rendered from the fairness evidence."""
    from workbench.reports import fairness_context, render_html, sr117_context

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))  # the document history reads the audit trail
    evidence = _evidence(spec, json.loads(json.dumps(fairness, default=str)))

    def text(page: str) -> str:
        parser = _Text()
        parser.feed(page)
        return " ".join("".join(parser.parts).split())

    return (
        text(render_html("fairness.html.j2", fairness_context(evidence))),
        text(render_html("sr117.html.j2", sr117_context(evidence))),
    )


# --- 1. no protected attribute ---------------------------------------------------------------------------------


def test_the_fairness_spec_section_is_strict_and_key_named(spec_dict, german_spec):
    assert german_spec.fairness.min_group_size == 30 and german_spec.fairness.screening_attributes == []
    spec_dict["fairness"] = {
        "screening_attributes": ["telephone", "sex", "credit_risk"],
        "no_protected_attributes_reason": "none collected",
        "min_group_size": 0,
        "tolerance": 0.01,
    }
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_dict)
    problems = dict(caught.value.problems)
    assert problems["fairness.tolerance"] == "unknown key"
    assert "greater than or equal to 1" in problems["fairness.min_group_size"]
    spec_dict["fairness"] = {
        "screening_attributes": ["telephone", "sex", "credit_risk"],
        "no_protected_attributes_reason": "none collected",
    }
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_dict)
    problems = dict(caught.value.problems)
    assert "'telephone' is a model input (features.categorical[10])" in problems["fairness.screening_attributes[0]"]
    assert "already protected attribute 'sex'" in problems["fairness.screening_attributes[1]"]
    assert problems["fairness.screening_attributes[2]"] == "'credit_risk' is the target"
    assert "only for a model with none" in problems["fairness.no_protected_attributes_reason"]


def test_screening_attributes_are_checked_against_the_data(german_spec_dict, german_data):
    spec_dict = _unprotected_dict(german_spec_dict)
    spec_dict["fairness"]["screening_attributes"] = ["sex", "foreign_workr", "age"]
    with pytest.raises(SpecError) as caught:
        check_spec_against_data(parse_spec(spec_dict), german_data.frame, "german.csv")
    problems = dict(caught.value.problems)
    assert problems["fairness.screening_attributes[1]"] == (
        "'foreign_workr' is not a column of german.csv (did you mean 'foreign_worker'?)"
    )
    assert "'age' has 53 distinct values" in problems["fairness.screening_attributes[2]"]
    assert "fairness.screening_attributes[0]" not in problems


def test_no_protected_attribute_is_stated_and_a_medium_finding(unprotected):
    _, context = unprotected
    report = assess_fairness(context, n_boot=50)
    assert report.attributes == [] and report.protected == [] and report.observed == {}
    assert report.summary().empty and "four_fifths" in report.summary().columns
    assert approval_figure(report) is None
    # the proxy screen still ran, on the screening attributes only
    assert report.proxies["attribute"].tolist() == SCREENED
    assert report.proxies["group"].tolist() == ["sex=female", "foreign_worker=no"]
    alternatives = search_alternatives(context, report)
    assert alternatives.skipped.startswith("no protected attribute was provided") and alternatives.table.empty
    findings = fairness_findings(report, alternatives)
    gap = next(f for f in findings if f.finding_id == "F-fairness.no_protected_attributes")
    assert gap.severity == "medium" and "disparate impact could not be assessed" in gap.detail
    assert "no justification" in gap.detail and "sex, foreign_worker" in gap.detail
    document = json.loads(json.dumps(report.to_dict(findings, alternatives)))
    assert document["no_protected_attributes"] == {"statement": NO_PROTECTED_STATEMENT, "reason": None}
    assert document["screening_attributes"] == SCREENED and document["alternatives"]["skipped"]


def test_a_recorded_justification_lowers_the_finding(unprotected):
    _, context = unprotected
    spec_dict = context.spec.model_dump(mode="json")
    reason = "ECOA bars collecting sex and race for this product; a BISG proxy study is scheduled for Q3"
    spec_dict["fairness"]["no_protected_attributes_reason"] = reason
    justified = _context(parse_spec(spec_dict), context.data, context.model, context.split, "scorecard_logit")
    report = assess_fairness(justified, n_boot=50)
    (gap,) = [f for f in fairness_findings(report) if f.source == "fairness.protected_attributes"]
    assert gap.severity == "low" and reason in gap.detail
    assert report.to_dict()["no_protected_attributes"]["reason"] == reason


def test_notebook_04_runs_end_to_end_without_protected_attributes(unprotected, tmp_path, monkeypatch):
    """Register the unprotected model, run notebook 04 by Papermill, build both documents from its record."""
    from workbench.pipeline import execute
    from workbench.registry import (
        configure,
        read_evidence,
        register_training,
        start_pipeline_run,
        start_validation_run,
    )

    result, context = unprotected
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "registry_store").mkdir()
    uri = f"sqlite:///{tmp_path / 'registry_store' / 'mlflow.db'}"
    client = configure(uri)
    run_id = start_pipeline_run(context.spec, developer="priya", client=client)
    version = register_training(result, run_id, developer="priya", client=client)
    validation_run = start_validation_run(client, context.spec.name, version, "marco")
    parameters = {
        "model_name": context.spec.name,
        "version": version,
        "tracking_uri": uri,
        "validator": "marco",
        "run_id": validation_run,
        "interactive": False,
    }
    execute("04_fairness.ipynb", tmp_path / "04_fairness.ipynb", parameters, progress=False)
    fairness, _ = read_evidence(client, validation_run, "fairness", tmp_path / "evidence")
    assert fairness["no_protected_attributes"]["statement"] == NO_PROTECTED_STATEMENT
    assert fairness["summary"] == [] and fairness["alternatives"]["skipped"]
    assert [f["finding_id"] for f in fairness["findings"]][0] == "F-fairness.no_protected_attributes"
    report_text, sr117_text = _documents(context.spec, fairness, monkeypatch, tmp_path)
    for text in (report_text, sr117_text):
        assert "No protected attribute was provided: disparate impact could not be assessed" in text
    assert "The spec records no justification (a medium-severity finding)" in report_text
    assert "The search for a less discriminatory alternative was not run" in report_text


# --- 2. tiny groups ------------------------------------------------------------------------------------------------


def test_tiny_intersections_are_too_few_to_assess_never_high_or_medium(messy):
    context, report, _, findings = messy
    minimum = context.spec.fairness.min_group_size
    intersection = report.attribute("foreign_worker & single & female & marital")
    counts = intersection.groups.set_index("group")["count"]
    assert (counts < 6).sum() >= 5  # the onboarding data's intersections of a handful of applicants
    assert set(intersection.too_few) == set(counts[counts < minimum].index)
    small_rows = intersection.groups[intersection.groups["count"] < minimum]
    assert small_rows["assessment"].str.endswith(TOO_FEW).all() and small_rows["disparate_impact"].isna().all()
    # every group any high or medium finding compares has at least the minimum number of applicants
    sizes = {g: n for item in report.attributes for g, n in item.groups[["group", "count"]].itertuples(index=False)}
    for finding in findings:
        if finding.source == "fairness.disparate_impact":
            compared = re.search(r"ratio of (.+) to (.+) \((\d+) and (\d+) validation", finding.detail)
            assert sizes[compared[1]] >= minimum and sizes[compared[2]] >= minimum, finding.detail
    for finding in findings:
        if finding.source == "fairness.min_group_size":
            assert finding.severity == "low"
    # foreign_worker=no (the reference) has only 9 validation applicants: the attribute is not assessed
    foreign = report.attribute("foreign_worker")
    assert not foreign.assessed and foreign.count("foreign_worker=no") < minimum
    summary = report.summary().set_index("attribute")
    assert summary.loc["foreign_worker", "four_fifths"] == TOO_FEW
    assert not any(f.finding_id == "F-fairness.disparate_impact.foreign_worker" for f in findings)
    low = next(f for f in findings if f.finding_id == "F-fairness.too_few.foreign_worker")
    assert "the reference group foreign_worker=no is among them" in low.detail


def test_every_label_names_its_attributes(messy):
    _, report, _, findings = messy
    for item in report.attributes:
        names = item.attribute.split(" & ")
        for label in [*item.groups["group"], item.reference, *([item.worst_group] if item.worst_group else [])]:
            parts = label.split(" & ")
            assert [p.split("=", 1)[0] for p in parts] == names, label
    for finding in findings:
        if finding.source == "fairness.disparate_impact":
            assert re.search(r"ratio of \w+=\S+.* to \w+=\S+", finding.detail), finding.detail
    assert all("=" in g for g in report.proxies["group"])
    assert all("=" in g for table in report.observed.values() for g in table["group"])


def test_the_minimum_group_size_comes_from_the_spec_and_is_reported(german_context, monkeypatch, tmp_path):
    """With min_group_size 50 the 45 young applicants of the validation sample are too few to assess."""
    spec_dict = german_context.spec.model_dump(mode="json")
    spec_dict["fairness"]["min_group_size"] = 50
    context = _context(
        parse_spec(spec_dict), german_context.data, german_context.model, german_context.split, "gradient_boosting"
    )
    report = assess_fairness(context, n_boot=50)
    age = report.attribute("age_group")
    assert age.too_few == ["age_group=<25"] and age.count("age_group=<25") == 45 and not age.assessed
    findings = fairness_findings(report)
    assert not [f for f in findings if f.finding_id == "F-fairness.disparate_impact.age_group"]
    assert next(f for f in findings if f.finding_id == "F-fairness.too_few.age_group").severity == "low"
    document = report.to_dict(findings)
    assert document["min_group_size"] == 50
    _, sr117 = _documents(context.spec, document, monkeypatch, tmp_path)
    page_one = sr117[: sr117.index("2 Purpose, scope")]
    assert "groups under 50 validation applicants too few to assess" in page_one
    assert "sex=female (90), sex=male (210)" in page_one
    assert "age_group: not assessed" in page_one


def test_page_one_shows_the_sizes_of_the_groups_compared(german_fairness, german_spec, monkeypatch, tmp_path):
    report, alternatives, findings = german_fairness
    _, sr117 = _documents(german_spec, report.to_dict(findings, alternatives), monkeypatch, tmp_path)
    page_one = sr117[: sr117.index("2 Purpose, scope")]
    assert "age_group=<25, n=45 vs age_group=>=25, n=255" in page_one
    assert "age_group=<25 (45), age_group=>=25 (255)" in page_one
    # the German intersection: the two young cells have 25 and 20 applicants, too few to assess
    assert "2 group(s) under 30 applicants too few to assess" in page_one
    assert "Less discriminatory alternative search:" in page_one


# --- 3. unique finding ids -----------------------------------------------------------------------------------------


def test_finding_ids_are_unique_and_stable(german_fairness, messy):
    german = german_fairness[2]
    messy_findings = messy[3]
    for findings in (german, messy_findings):
        ids = [f.finding_id for f in findings]
        assert len(ids) == len(set(ids)), Counter(ids).most_common(3)
    # the onboarding run repeated F-fairness.proxy.marital; now each proxy finding names attribute and group
    proxies = [f.finding_id for f in messy_findings if f.source == "fairness.proxy_screen"]
    assert len([i for i in proxies if i.startswith("F-fairness.proxy.marital=")]) >= 3
    assert all(re.fullmatch(r"F-fairness\.proxy\.\w+=.+", i) for i in proxies)
    # stable: the same evidence gives the same ids
    _, report, alternatives, _ = messy
    assert [f.finding_id for f in fairness_findings(report, alternatives)] == [f.finding_id for f in messy_findings]


def test_a_repeated_id_is_never_logged_twice():
    item = assess_attribute("group", np.arange(200) % 2, np.zeros(200), pd.Series(["a"] * 100 + ["b"] * 100), "a")

    class Report:
        attributes = [item]
        proxies = pd.DataFrame(
            [{"attribute": "x", "group": "x=1", "proxy_auc": 0.9, "top_proxies": "f (0.5)"}] * 2,
        )
        floor = 0.8

    ids = [f.finding_id for f in fairness_findings(Report())]
    assert ids == ["F-fairness.proxy.x=1", "F-fairness.proxy.x=1#2"]


# --- 4. missing groups ---------------------------------------------------------------------------------------------


def test_missing_values_are_the_missing_group_everywhere(messy):
    context, report, alternatives, findings = messy
    missing = f"marital={MISSING_GROUP}"
    assert missing in report.attribute("marital").groups["group"].tolist()
    assert missing in report.observed["marital"]["group"].tolist()
    assert missing in report.proxies["group"].tolist()
    assert any(f"single={MISSING_GROUP}" in g for g in report.attributes[-1].groups["group"])
    text = json.dumps(report.to_dict(findings, alternatives))
    assert not re.search(r"=nan\b|\"nan\"|\bnan &", text)


def test_raw_missing_values_given_to_the_public_functions_become_the_missing_group():
    groups = pd.Series(["a"] * 50 + [np.nan] * 40 + [None] * 10, dtype=object)
    item = assess_attribute("g", np.arange(100) % 2, np.zeros(100), groups, "a", n_boot=10)
    assert sorted(item.groups["group"]) == [MISSING_GROUP, "a"] and item.count(MISSING_GROUP) == 50
    assert isinstance(item, AttributeFairness)
    table = outcome_rates(np.ones(100), groups, "a")
    assert sorted(table["group"]) == [MISSING_GROUP, "a"]


# --- 5. less discriminatory alternatives ---------------------------------------------------------------------------


def test_the_alternatives_on_the_german_model(german_fairness, german_context):
    report, alternatives, findings = german_fairness
    table = alternatives.table.set_index("alternative")
    chosen = alternatives.table.iloc[0]
    assert chosen["kind"] == "chosen" and chosen["alternative"] == "chosen model (gradient_boosting)"
    # the chosen model's row is the assessment itself
    assert chosen["ratio_sex"] == pytest.approx(report.attribute("sex").disparate_impact)
    assert chosen["ratio_age_group"] == pytest.approx(report.attribute("age_group").disparate_impact)
    assert chosen["approval_rate"] == pytest.approx(1 - german_context.decisions.mean())
    kinds = Counter(alternatives.table["kind"])
    assert kinds == {"chosen": 1, "proxy removed": 3, "fairlearn reduction": 2, "cut-off": 1}
    strongest = report.proxy_features.groupby("feature")["cramers_v"].max().sort_values(ascending=False)
    assert list(table.index[table["kind"] == "proxy removed"]) == [f"without {f}" for f in strongest.index[:3]]
    assert alternatives.table["auc"].between(0.6, 0.9).all()
    assert (alternatives.table["auc_cost"] == chosen["auc"] - alternatives.table["auc"]).all()
    # the cut-off row: the nearest cut-off at which the worst ratio reaches the floor on the development sample
    (cutoff,) = table.index[table["kind"] == "cut-off"]
    value = float(cutoff.removeprefix("cut-off "))
    approved = german_context.p_dev < value
    groups = german_context.groups("development")
    rates = pd.Series(approved).groupby(groups["age_group"].to_numpy()).mean()
    assert rates["<25"] / rates[">=25"] >= report.floor and value > german_context.spec.decision.cutoff
    # the demographic-parity reduction narrows the age gap the chosen model has
    assert table.loc["reduction: demographic parity", "ratio_age_group"] > chosen["ratio_age_group"] + 0.05
    assert alternatives.conclusion and "sampling noise" in alternatives.conclusion
    assert len(alternatives.method) == 4 and alternatives.method[1].startswith("(a) gradient_boosting refitted")
    lda = [f for f in findings if f.finding_id == "F-fairness.less_discriminatory_alternative"]
    if alternatives.lda is None:
        assert not lda
    else:
        assert lda[0].severity == "medium" and lda[0].detail == alternatives.conclusion
        assert "consider it" in alternatives.conclusion
        row = table.loc[alternatives.lda["alternative"]]
        assert row["worst_ratio"] >= report.floor and row["auc_cost"] <= alternatives.tolerance
    assert alternatives.seconds < 120


def test_the_alternatives_are_deterministic_and_recorded(messy):
    context, report, alternatives, _ = messy
    again = search_alternatives(context, report)
    pd.testing.assert_frame_equal(again.table, alternatives.table)
    assert again.conclusion == alternatives.conclusion
    # the scorecard takes no sample weights: the reductions fit the same logit by scikit-learn
    notes = alternatives.table.loc[alternatives.table["kind"] == "fairlearn reduction", "note"]
    assert notes.str.contains("unpenalised logit fitted by scikit-learn").all()
    recorded = json.loads(json.dumps(report.to_dict([], alternatives)))["alternatives"]
    assert recorded["conclusion"] == alternatives.conclusion and len(recorded["table"]) == len(alternatives.table)
    assert set(recorded["attributes"]) == {"foreign_worker", "single", "female", "marital"}


def test_spec_cutoffs_join_the_search(messy):
    context, report, _, _ = messy
    spec_dict = context.spec.model_dump(mode="json")
    spec_dict["fairness"]["alternative_cutoffs"] = [0.5]
    with_cutoff = _context(parse_spec(spec_dict), context.data, context.model, context.split, "scorecard_logit")
    search = search_alternatives(with_cutoff, report)
    row = search.table.set_index("alternative").loc["cut-off 0.5"]
    assert row["note"] == "from the spec" and row["auc_cost"] == 0
    assert row["approval_rate"] == pytest.approx((context.p_val < 0.5).mean())
    assert "Moving the cut-off from 0.35 to 0.5 (from the spec)" in search.conclusion
    assert "and to 0.5 as the spec lists" in search.method[-1]


def test_the_documents_show_the_alternatives(german_fairness, german_spec, monkeypatch, tmp_path):
    report, alternatives, findings = german_fairness
    report_text, sr117 = _documents(german_spec, report.to_dict(findings, alternatives), monkeypatch, tmp_path)
    for text in (report_text, sr117):
        assert "Less discriminatory alternatives" in text
        assert alternatives.conclusion.split(":")[0] in text
        assert "reduction: demographic parity" in text and "ratio age group" in text
    assert "too few to assess" in report_text and "Groups with fewer than 30 validation applicants" in report_text
