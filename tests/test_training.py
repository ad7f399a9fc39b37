"""Training on the real German data: plausible discrimination, no protected inputs, deterministic artefacts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.training import FAMILIES, StatsmodelsScorecard, model_inputs, train


@pytest.fixture(scope="module")
def trained(german_training):
    return german_training


def test_discrimination_is_in_the_published_range(trained):
    table = trained.candidates_table().set_index("family")
    # published 10-fold CV AUC on this data is about 0.78-0.80 with all attributes; ours excludes three
    assert 0.74 <= table.loc["scorecard_logit", "cv_auc_mean"] <= 0.82
    assert 0.74 <= table.loc["gradient_boosting", "cv_auc_mean"] <= 0.82
    assert table["chosen"].sum() == 1
    assert trained.metrics["validation_auc"] == pytest.approx(trained.metrics["artefact_validation_auc"], abs=1e-12)


def test_protected_attributes_never_reach_the_model(trained, german_spec):
    inputs = list(trained.model.feature_names_in_)
    assert inputs == german_spec.features.all
    for banned in ("sex", "age", "age_group", "personal_status_sex", "credit_risk"):
        assert banned not in inputs


def test_artefact_is_plain_scikit_learn(trained):
    for step in trained.model.named_steps.values():
        assert type(step).__module__.startswith("sklearn."), type(step)


def test_scorecard_has_inference_statistics(trained):
    coefficients = trained.coefficients
    assert list(coefficients.columns) == [
        "term",
        "coefficient",
        "std_error",
        "z",
        "p_value",
        "odds_ratio",
        "estimation",
    ]
    assert (coefficients["estimation"] == "maximum likelihood").all()  # no separation in the German data
    assert coefficients["std_error"].gt(0).all()
    assert coefficients["p_value"].between(0, 1).all()
    no_account = coefficients[coefficients["term"].str.contains("no checking account")].iloc[0]
    # applicants without a checking account default less often than those overdrawn (the reference level)
    assert no_account["coefficient"] < 0 and no_account["p_value"] < 0.01


def test_scorecard_export_predicts_identically(german_data, german_spec):
    family = FAMILIES["scorecard_logit"]
    pipeline = family.build(
        german_spec.features.numeric, german_spec.features.categorical, min_category_count=10, seed=0
    )
    x = model_inputs(german_data.frame, german_spec)
    y = german_data.frame["credit_risk"].eq("bad").astype(int).to_numpy()
    pipeline.fit(x, y)
    scorecard = pipeline.named_steps["model"]
    assert isinstance(scorecard, StatsmodelsScorecard)
    transformed = pipeline.named_steps["preprocess"].transform(x)
    exported = scorecard.to_sklearn()
    assert np.max(np.abs(exported.predict_proba(transformed) - scorecard.predict_proba(transformed))) <= 1e-12


def test_separated_category_falls_back_to_firth_with_finite_effects(german_data, german_spec):
    """A level holding only good outcomes has no maximum-likelihood estimate; Firth's gives a finite one."""
    import statsmodels.api as sm

    x = model_inputs(german_data.frame, german_spec)
    y = german_data.frame["credit_risk"].eq("bad").astype(int).to_numpy()
    pipeline = FAMILIES["scorecard_logit"].build(
        german_spec.features.numeric, german_spec.features.categorical, min_category_count=10, seed=0
    )
    design = pipeline.named_steps["preprocess"].fit_transform(x, y)
    names = list(pipeline.named_steps["preprocess"].get_feature_names_out())
    column = names.index("categorical__purpose_others")  # 12 applicants; all made good below
    on = design[:, column] == 1
    y_separated = y.copy()
    y_separated[on] = 0
    plain = sm.Logit(y_separated, sm.add_constant(design, has_constant="add")).fit(
        disp=0, maxiter=100, warn_convergence=False
    )
    assert abs(plain.params[column + 1]) > 10 or not plain.mle_retvals["converged"]  # the MLE runs off
    scorecard = StatsmodelsScorecard().fit(design, y_separated)
    assert scorecard.estimation_ == "Firth penalised likelihood" and scorecard.separating_columns_ == [column]
    assert np.isfinite(scorecard.coef_).all() and abs(scorecard.coef_[0, column]) < 10
    assert np.isfinite(scorecard.bse_).all() and (scorecard.bse_ > 0).all()
    # away from the separated level the estimates stay close to maximum likelihood's
    others = [j for j in range(design.shape[1]) if j != column]
    mle = StatsmodelsScorecard().fit(np.delete(design, column, axis=1)[~on], y_separated[~on])
    assert np.corrcoef(scorecard.coef_[0, others], mle.coef_[0])[0, 1] > 0.95
    table = scorecard.coefficient_table(names)
    assert (table["estimation"] == "Firth penalised likelihood").all()


def test_training_is_deterministic(german_data, german_spec, trained):
    again = train(german_data, german_spec)
    assert again.metrics == trained.metrics
    assert np.array_equal(again.validation_scores(), trained.validation_scores())


def test_model_handles_missing_values_and_unseen_levels(trained, german_spec):
    row = trained.validation_inputs.iloc[[0]].copy()
    row.loc[row.index[0], "credit_amount"] = np.nan
    row.loc[row.index[0], "purpose"] = np.nan
    score = trained.model.predict_proba(row)[0, 1]
    assert 0.0 < score < 1.0


def test_interpretable_model_is_kept_within_the_margin(german_data, german_spec):
    generous = german_spec.model_copy(
        update={"selection": german_spec.selection.model_copy(update={"prefer_interpretable_within": 0.5})}
    )
    result = train(german_data, generous)
    assert result.chosen == "scorecard_logit"
    assert "within the 0.5 margin" in result.selection_reason
    assert type(result.model.named_steps["model"]).__name__ == "LogisticRegression"


def test_inputs_keep_types(german_data, german_spec):
    x = model_inputs(german_data.frame, german_spec)
    assert all(x[c].dtype == np.float64 for c in german_spec.features.numeric)
    assert all(x[c].map(type).eq(str).all() for c in german_spec.features.categorical)
    assert isinstance(x, pd.DataFrame)
