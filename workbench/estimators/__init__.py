"""The catalogue of candidate model families: each builds an unfitted pipeline with its own preprocessing.

It sits below the spec (which checks ``candidates[].family`` against it), training (which fits the
candidates) and fairness (which refits them without a proxy feature), and imports none of them.
"""

from typing import Any

from workbench.estimators._families import FAMILIES, ModelFamily, column_owners, preprocessing

__all__ = ["FAMILIES", "ModelFamily", "StatsmodelsScorecard", "column_owners", "preprocessing"]


def __getattr__(name: str) -> Any:
    # the scorecard imports statsmodels; a spec check (which only reads the family names) should not pay for it
    if name == "StatsmodelsScorecard":
        from workbench.estimators._scorecard import StatsmodelsScorecard

        return StatsmodelsScorecard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
