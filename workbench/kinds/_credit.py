"""The credit kind (the default): approve or decline applications at a cut-off on the probability of default."""

from __future__ import annotations

from typing import Any

from workbench.kinds._common import COMMON_TESTS
from workbench.kinds._kind import Kind, register_kind


def _requirements(spec: Any) -> list[tuple[str, str]]:
    """A credit model declines at a cut-off the spec gives (cut-offs are above 0)."""
    return [] if spec.decision.cutoff else [("decision.cutoff", "required key is missing")]


CREDIT = register_kind(
    Kind(
        name="credit",
        title="credit",
        subject="applicant",
        subjects="applicants",
        decision="cutoff",
        favourable="approval",
        favourable_rate="approval rate",
        tests=(
            *COMMON_TESTS,
            "calibration.*",
            "backtesting.*",
            "segments.calibration",
            "soundness.coefficients",
            "decision.at_cutoff",
            "decision.cutoff_sweep",
            "decision.confusion",
        ),
        headline=("auc", "auc_low", "auc_high", "gini", "ks", "score_psi", "hosmer_lemeshow_p", "approval_rate"),
        monitoring=("score_psi", "feature_csi", "auc", "approval_rate", "disparate_impact"),
        keys=("decision.costs",),
        requirements=_requirements,
        assumptions=(
            "Applicants scored in production resemble the development population (checked by monitoring).",
            "Past repayment behaviour of similar applicants predicts future repayment.",
            "Rare categorical levels behave like the pooled 'infrequent' group; missing values like the median "
            "(numeric) or a separate '(missing)' level (categorical).",
            "Each observation is independent (one application per applicant).",
        ),
        limitations=(
            "Outcomes are observed only for booked loans; no reject inference was performed, so performance on "
            "applicants declined in the past is unknown.",
            "Validation is on a holdout from the same period as development; an out-of-time test needs later data.",
        ),
    )
)
