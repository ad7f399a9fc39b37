"""Contributions add up to the score, reason codes push towards the adverse outcome, LIME runs offline."""

from __future__ import annotations

import numpy as np
from scipy.special import logit

from workbench.explain import ContributionExplainer, LimeExplainer, explain_version
from workbench.training import train


def test_treeshap_contributions_add_up_to_the_log_odds(german_context):
    explainer = ContributionExplainer(german_context.model, german_context.spec, german_context.x_dev)
    contributions = explainer.contributions(german_context.x_val)
    assert list(contributions.columns) == german_context.spec.features.all
    total = contributions.sum(axis=1).to_numpy() + explainer.expected_value
    assert np.max(np.abs(total - logit(german_context.p_val))) < 1e-9


def test_scorecard_contributions_are_exact(german_data, german_spec):
    spec = german_spec.model_copy(
        update={"selection": german_spec.selection.model_copy(update={"prefer_interpretable_within": 0.5})}
    )
    result = train(german_data, spec)
    explainer = ContributionExplainer(result.model, spec, result.validation_inputs)
    assert explainer.method.startswith("exact")
    total = explainer.contributions(result.validation_inputs).sum(axis=1).to_numpy() + explainer.expected_value
    assert np.max(np.abs(total - logit(result.validation_scores()))) < 1e-9


def test_reason_codes(german_context):
    explainer = ContributionExplainer(german_context.model, german_context.spec, german_context.x_dev)
    declined = german_context.x_val[german_context.decisions == 1].head(5)
    for reasons in explainer.reasons(declined):
        assert 1 <= len(reasons) <= german_context.spec.decision.reason_codes
        values = [r.contribution for r in reasons]
        assert all(v > 0 for v in values) and values == sorted(values, reverse=True)
        for reason in reasons:
            assert reason.text == german_context.spec.decision.adverse_action_texts[reason.feature]


def test_lime_and_agreement(german_context):
    lime = LimeExplainer(german_context.model, german_context.spec, german_context.x_dev, seed=1)
    weights = lime.weights(german_context.x_val.iloc[[0]], num_samples=500)
    assert list(weights.index) == german_context.spec.features.all
    report = explain_version(german_context, n_cases=3, lime_samples=500)
    assert len(report.agreement) == 3
    assert 0.0 <= report.top1_agreement <= 1.0
    assert set(report.figures) >= {"importance"}
    assert report.reason_examples["reason"].isin(german_context.spec.decision.adverse_action_texts.values()).all()
    assert report.importance["mean_abs_contribution"].is_monotonic_decreasing
