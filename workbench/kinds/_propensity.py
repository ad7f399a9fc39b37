"""The propensity kind: whom a marketing campaign contacts, by the score's top share or by expected profit."""

from __future__ import annotations

from typing import Any

from workbench.kinds._common import COMMON_TESTS
from workbench.kinds._kind import Kind, register_kind


def _requirements(spec: Any) -> list[tuple[str, str]]:
    """The profit curve needs the cost of a contact and the value of a sale; the share is optional."""
    problems: list[tuple[str, str]] = []
    decision = spec.decision
    given = decision.value is not None and decision.contact_cost is not None
    never_pays = given and decision.value <= decision.contact_cost
    if decision.contact_cost is None:
        problems.append(("decision.contact_cost", "a propensity model names the cost of one contact"))
    if decision.value is None:
        problems.append(("decision.value", "a propensity model names the value of one sale (the margin it earns)"))
    elif decision.contact_share is None and never_pays:
        problems.append(
            ("decision.value", f"{decision.value} is not above decision.contact_cost: no contact could ever pay")
        )
    return problems


PROPENSITY = register_kind(
    Kind(
        name="propensity",
        title="marketing propensity",
        subject="customer",
        subjects="customers",
        decision="contact",
        favourable="offer (contact)",
        favourable_rate="offer rate",
        tests=(
            *COMMON_TESTS,
            "calibration.*",
            "segments.calibration",
            "soundness.coefficients",
            "discrimination.cumulative_gains",
            "decision.profit_curve",
        ),
        headline=(
            "auc",
            "response_rate",
            "top_decile_response_rate",
            "top_decile_lift",
            "contact_share",
            "expected_profit",
            "profit_best_share",
            "hosmer_lemeshow_p",
            "score_psi",
        ),
        monitoring=("score_psi", "feature_csi", "contact_rate", "response_rate", "offer_rate_ratio"),
        keys=(
            "decision.contact_share",
            "decision.contact_cost",
            "decision.value",
            "thresholds.min_top_decile_lift",
        ),
        lists_skipped=("credit",),
        skip_reasons={
            "backtesting": "PD back-tests by rating grade judge a probability of default with regulatory traffic "
            "lights; a propensity score's probabilities are judged by the calibration tests, its use by gains and "
            "profit",
            "decision": "the credit decision (approve or decline at a cut-off with a cost matrix) does not apply; "
            "whom the campaign contacts is judged by decision.profit_curve",
        },
        requirements=_requirements,
        alternatives_skip="the search weighs alternatives by the credit cost matrix and reads them as approvals; a "
        "campaign trades profit against offer-rate ratios, which decision.profit_curve and the offer-rate tables show, "
        "so no alternative was searched.",
        assumptions=(
            "Customers the campaign reaches resemble the customers the model was developed on (checked by monitoring).",
            "Buying is observed for every customer of the data, contacted or not, so the response rates are not "
            "those of a past campaign's selection.",
            "The value of a sale and the cost of a contact are the spec's figures, the same for every customer.",
        ),
        limitations=(
            "The scores rank customers by their propensity to buy without a contact; the uplift a contact causes is "
            "not measured (that needs a randomised control group).",
            "Validation is on a holdout from the same period as development; an out-of-time test needs later data.",
        ),
    )
)
