"""Training: fitting the spec's candidate families and choosing the champion on the development sample.

``FAMILIES``, ``ModelFamily`` and ``StatsmodelsScorecard`` are re-exported from :mod:`workbench.estimators`,
``model_inputs`` from :mod:`workbench.data`.
"""

from workbench.data import model_inputs
from workbench.estimators import FAMILIES, ModelFamily, StatsmodelsScorecard
from workbench.training._train import CandidateResult, FailedCandidate, TrainingError, TrainingResult, train

__all__ = [
    "FAMILIES",
    "CandidateResult",
    "FailedCandidate",
    "TrainingError",
    "ModelFamily",
    "StatsmodelsScorecard",
    "TrainingResult",
    "model_inputs",
    "train",
]
