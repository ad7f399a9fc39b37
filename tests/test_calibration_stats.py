"""PD calibration statistics against independent computations, hand-worked cases and published tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from workbench.stats import hosmer_lemeshow
from workbench.stats._calibration import risk_groups


def test_hosmer_lemeshow_degrees_of_freedom_follow_the_sample():
    rng = np.random.default_rng(11)
    p = rng.uniform(0.05, 0.6, 400)
    y = (rng.uniform(size=400) < p).astype(int)
    development = hosmer_lemeshow(y, p, groups=10)
    independent = hosmer_lemeshow(y, p, groups=10, sample="independent")
    assert development.statistic == independent.statistic
    assert (development.dof, development.sample) == (8, "development")
    assert (independent.dof, independent.sample) == (10, "independent")
    assert independent.p_value == pytest.approx(chi2.sf(independent.statistic, 10), rel=1e-12)
    assert independent.p_value > development.p_value  # same statistic, more degrees of freedom
    with pytest.raises(ValueError, match="sample must be"):
        hosmer_lemeshow(y, p, sample="holdout")


def test_hosmer_lemeshow_hand_worked():
    # two groups of two: p = (0.1, 0.2 | 0.6, 0.7), y = (0, 1 | 1, 1)
    # group 1: O = 1, E = 0.3, n = 2 -> (1 - 0.3)^2 / (0.3 * (1 - 0.15)) = 0.49 / 0.255
    # group 2: O = 2, E = 1.3, n = 2 -> (2 - 1.3)^2 / (1.3 * (1 - 0.65)) = 0.49 / 0.455
    result = hosmer_lemeshow(np.array([1, 0, 1, 1]), np.array([0.2, 0.1, 0.7, 0.6]), groups=2, sample="independent")
    assert result.statistic == pytest.approx(0.49 / 0.255 + 0.49 / 0.455, rel=1e-12)
    assert result.table["observed"].tolist() == [1.0, 2.0]
    assert result.table["expected"].tolist() == pytest.approx([0.3, 1.3])
    assert result.dof == 2


@pytest.mark.parametrize("n", [300, 500, 1000])
def test_risk_groups_are_the_quantile_groups_of_the_ranks(n):
    p = np.random.default_rng(n).uniform(size=n)
    by_pandas = pd.qcut(pd.Series(p).rank(method="first"), 10, labels=False).to_numpy()
    assert (risk_groups(p, 10) == by_pandas).all()


def test_risk_groups_sizes_differ_by_at_most_one_and_follow_the_score():
    for n in (91, 171, 305, 999):
        p = np.random.default_rng(n).uniform(size=n)
        group = risk_groups(p, 10)
        sizes = np.bincount(group)
        assert len(sizes) == 10 and sizes.max() - sizes.min() <= 1 and sizes.sum() == n
        order = np.argsort(p)
        assert (np.diff(group[order]) >= 0).all()


def test_hosmer_lemeshow_size_on_an_independent_sample():
    """With the true PDs, the out-of-sample form rejects at its nominal 5%; the in-sample form about twice as often.

    2,000 validation samples of 300 rows, PDs drawn from Beta(1.5, 6) (mean 20%, right-skewed like a retail
    book), outcomes drawn from those PDs; ten groups.
    """
    replications, rows = 2000, 300
    rng = np.random.default_rng(20240611)
    pds = rng.beta(1.5, 6.0, size=(replications, rows))
    outcomes = (rng.uniform(size=(replications, rows)) < pds).astype(int)
    independent, development = np.empty(replications), np.empty(replications)
    for i in range(replications):
        result = hosmer_lemeshow(outcomes[i], pds[i], groups=10, sample="independent")
        independent[i] = result.p_value
        development[i] = chi2.sf(result.statistic, 8)
    size_independent = float(np.mean(independent < 0.05))
    size_development = float(np.mean(development < 0.05))
    assert 0.03 <= size_independent <= 0.07, size_independent
    assert size_development > 0.08, size_development
