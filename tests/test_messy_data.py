"""Messy real-world variants of the German data: each problem is detected and named, never a traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data import ModelData, validate_data
from workbench.datasets import german_credit_path
from workbench.spec import parse_spec
from workbench.stats import single_feature_auc


def _data(frame: pd.DataFrame) -> ModelData:
    return ModelData(frame=frame, sha256="0" * 64, source="messy.csv", path=german_credit_path())


def _leaky(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A field filled after the decision: which investor bought the loan (bad loans mostly went unsold)."""
    rng = np.random.default_rng(seed)
    bad = frame["credit_risk"].eq("bad").to_numpy()
    bought = np.where(bad, np.where(rng.random(len(frame)) < 0.02, "fund A", "unsold"), "fund A")
    bought = np.where(~bad & (rng.random(len(frame)) < 0.5), "fund B", bought)
    return frame.assign(bought_by=bought)


def test_single_feature_auc_against_hand_worked_examples():
    y = np.array([0, 0, 1, 1])
    # numbers ranked perfectly: AUC 1; reversed: still 1 once oriented; one swap of four pairs: 3/4
    assert single_feature_auc(pd.Series([1.0, 2.0, 3.0, 4.0]), y, categorical=False) == 1.0
    assert single_feature_auc(pd.Series([4.0, 3.0, 2.0, 1.0]), y, categorical=False) == 1.0
    assert single_feature_auc(pd.Series([1.0, 3.0, 2.0, 4.0]), y, categorical=False) == 0.75
    # a missing value is a level below every number: [NaN, 2, 3, 4] ranks like [1, 2, 3, 4]
    assert single_feature_auc(pd.Series([np.nan, 2.0, 3.0, 4.0]), y, categorical=False) == 1.0
    # categories by their own adverse rate: a (0/2), b (2/2) separate perfectly; one shared level does not
    assert single_feature_auc(pd.Series(["a", "a", "b", "b"]), y, categorical=True) == 1.0
    assert single_feature_auc(pd.Series(["a", "a", "a", "a"]), y, categorical=True) == 0.5


def test_a_post_decision_field_is_flagged_as_leakage(spec_dict, german_data):
    frame = _leaky(german_data.frame)
    spec_dict["features"]["categorical"].append("bought_by")
    spec = parse_spec(spec_dict)
    check = validate_data(_data(frame), spec).check("leakage")
    assert check.outcome == "warn" and "bought_by" in check.message
    assert check.table.iloc[0]["feature"] == "bought_by" and check.table.iloc[0]["single_feature_auc"] > 0.95


def test_the_leakage_validation_test_raises_a_high_finding(spec_dict, german_data):
    from workbench.training import train
    from workbench.validation import ValidationContext, run_validation

    frame = _leaky(german_data.frame)
    spec_dict["features"]["categorical"].append("bought_by")
    spec_dict["candidates"] = [{"family": "gradient_boosting", "params": {"n_estimators": 30}}]
    spec = parse_spec(spec_dict)
    data = _data(frame)
    trained = train(data, spec)
    context = ValidationContext(
        spec=spec, model=trained.model, data=data, split=trained.split, name="leaky", version=1, tags={}
    )
    report = run_validation(context, ["data.leakage"])
    (result,) = report.results
    assert result.outcome == "fail" and result.values["suspects"] == ["bought_by"]
    (finding,) = report.findings
    assert finding.severity == "high" and "bought_by" in finding.detail


@pytest.mark.parametrize("limit", [0.6, 0.99])
def test_the_leakage_limit_comes_from_the_spec(spec_dict, german_data, limit):
    spec_dict["thresholds"]["max_single_feature_auc"] = limit
    check = validate_data(_data(german_data.frame), parse_spec(spec_dict)).check("leakage")
    strongest = check.table.iloc[0]["single_feature_auc"]  # checking_status, about 0.71
    assert (check.outcome == "warn") == (strongest > limit)


def test_missing_numbers_are_scored_and_explained_on_the_imputed_inputs(spec_dict, german_data):
    """LIME used to fail inside scipy on NaN; now every step sees the inputs the model sees."""
    from workbench.explain import LimeExplainer, explain_version
    from workbench.training import train
    from workbench.validation import ValidationContext

    frame = german_data.frame.copy()
    rng = np.random.default_rng(7)
    numeric = spec_dict["features"]["numeric"][:3]
    for column in numeric:
        frame.loc[rng.random(len(frame)) < 0.15, column] = np.nan
    spec_dict["candidates"] = [{"family": "gradient_boosting", "params": {"n_estimators": 30}}]
    spec = parse_spec(spec_dict)
    data = _data(frame)
    trained = train(data, spec)
    ctx = ValidationContext(
        spec=spec, model=trained.model, data=data, split=trained.split, name="m", version=1, tags={}
    )
    report = explain_version(ctx, n_cases=6, lime_samples=300)
    assert len(report.agreement) == 6 and report.reason_examples["reason"].notna().all()
    # a case whose first numeric input is missing is explained at the value the model imputed for it
    missing = ctx.x_val[ctx.x_val[numeric[0]].isna()].head(1)
    lime = LimeExplainer(ctx.model, spec, ctx.x_dev, seed=1)
    weights = lime.weights(missing, num_samples=300)
    assert np.isfinite(weights.to_numpy()).all() and set(weights.index) == set(spec.features.all)
    median = float(ctx.model.named_steps["preprocess"].named_transformers_["numeric"].statistics_[0])
    assert lime._as_model_sees(missing)[numeric[0]].iloc[0] == median


def _aliased_frame(frame: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    """Three kinds of aliasing seen in real extracts."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    # a dummy set that sums to one, next to the count it splits (the count is their total)
    shares = rng.integers(0, 3, size=(len(out), 3))
    out["loans_card"], out["loans_car"], out["loans_other"] = shares.T
    out["loans_total"] = shares.sum(axis=1)
    # a grade nested in a sub-grade
    out["sub_grade"] = out["savings"].astype(str) + "/" + out["employment_since"].astype(str)
    out["grade"] = out["savings"].astype(str)
    return out


def test_aliased_and_nested_features_are_named_and_dropped(spec_dict, german_data):
    from workbench.data import aliased_features, model_inputs

    frame = _aliased_frame(german_data.frame)
    spec_dict["features"]["numeric"] += ["loans_card", "loans_car", "loans_other", "loans_total"]
    spec_dict["features"]["categorical"] = [
        c for c in spec_dict["features"]["categorical"] if c not in ("savings", "employment_since")
    ] + ["sub_grade", "grade"]
    for gone in ("savings", "employment_since"):
        spec_dict["decision"]["adverse_action_texts"].pop(gone, None)
    spec = parse_spec(spec_dict)
    found = aliased_features(model_inputs(frame, spec), list(spec.features.numeric), list(spec.features.categorical))
    dropped = {a.feature: set(a.explained_by) for a in found if a.kind == "aliased"}
    assert dropped == {"grade": {"sub_grade"}, "loans_total": {"loans_card", "loans_car", "loans_other"}}
    check = validate_data(_data(frame), spec).check("aliasing")
    assert check.outcome == "warn" and "grade aliased" in check.message and "loans_total aliased" in check.message


def test_the_scorecard_fits_what_remains_after_aliased_features_are_dropped(spec_dict, german_data):
    from workbench.training import train

    frame = _aliased_frame(german_data.frame)
    spec_dict["features"]["numeric"] += ["loans_card", "loans_car", "loans_other", "loans_total"]
    spec_dict["features"]["categorical"] += ["grade"]
    spec_dict["candidates"] = [c for c in spec_dict["candidates"] if c["family"] == "scorecard_logit"]
    result = train(_data(frame.assign(grade=frame["savings"])), parse_spec(spec_dict))
    assert "loans_total" not in result.spec.features.all and "grade" not in result.spec.features.all
    assert result.model.named_steps["model"].coef_.shape[1] > 0
    assert result.metrics["validation_auc"] > 0.65
    kinds = {a.feature: a.kind for a in result.aliased}
    assert kinds["loans_total"] == "aliased" and kinds["grade"] == "aliased"


def test_separation_is_fitted_penalised_and_names_the_features(spec_dict, german_data):
    """A level that only ever holds good loans makes the MLE infinite: the fit says so and names it."""
    from workbench.training import train

    frame = _leaky(german_data.frame)
    spec_dict["features"]["categorical"].append("bought_by")
    spec_dict["candidates"] = [c for c in spec_dict["candidates"] if c["family"] == "scorecard_logit"]
    result = train(_data(frame), parse_spec(spec_dict))
    (candidate,) = result.candidates
    assert "penalised" in candidate.estimation and "separated by bought_by" in candidate.estimation
    assert set(result.candidates_table()["estimation"]) == {candidate.estimation}


def test_a_failing_candidate_is_recorded_and_the_others_go_on(spec_dict, german_data):
    from workbench.training import TrainingError, train

    spec_dict["candidates"] = [
        {"family": "gradient_boosting", "params": {"n_estimators": 0}},
        *[c for c in spec_dict["candidates"] if c["family"] == "scorecard_logit"],
    ]
    result = train(_data(german_data.frame), parse_spec(spec_dict))
    assert result.chosen == "scorecard_logit"
    (failed,) = result.failed
    assert failed.family == "gradient_boosting" and "n_estimators" in failed.reason
    table = result.candidates_table()
    assert table.set_index("family").loc["gradient_boosting", "failed"] == failed.reason
    spec_dict["candidates"] = spec_dict["candidates"][:1]
    with pytest.raises(TrainingError, match="no candidate could be fitted: gradient_boosting: .*n_estimators"):
        train(_data(german_data.frame), parse_spec(spec_dict))


def test_coefficients_of_a_scorecard_that_was_not_chosen_raise_no_finding(german_context):
    from workbench.validation import run_validation

    assert german_context.tags["model_family"] == "gradient_boosting"
    report = run_validation(german_context, ["soundness.coefficients"])
    (result,) = report.results
    assert result.outcome == "pass" and result.reason.startswith("not judged: the chosen model is not a scorecard")
    # the counts stay as evidence; the table of a model not in use is not shown
    assert report.findings == [] and result.tables == {} and result.values["share_insignificant"] > 0
