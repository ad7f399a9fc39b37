"""Training: candidate families, fitting and champion selection on the development sample."""

from workbench.training._families import FAMILIES, ModelFamily
from workbench.training._scorecard import StatsmodelsScorecard
from workbench.training._train import CandidateResult, TrainingResult, model_inputs, train

__all__ = [
    "FAMILIES",
    "CandidateResult",
    "ModelFamily",
    "StatsmodelsScorecard",
    "TrainingResult",
    "model_inputs",
    "train",
]
