"""A logistic-regression scorecard fitted by statsmodels, wearing scikit-learn's estimator interface.

statsmodels gives coefficients with standard errors and p-values, which validators need for conceptual
soundness; scikit-learn gives the pipeline and cross-validation machinery. ``to_sklearn`` hands the fitted
coefficients to a plain ``LogisticRegression`` so the registered artefact needs nothing but scikit-learn.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data
from statsmodels.discrete.discrete_model import Logit  # not statsmodels.api: that loads all of statsmodels
from statsmodels.tools.tools import add_constant

#: Inverse penalty strength of the last-resort ridge fit (scikit-learn's default).
RIDGE_C = 1.0
#: Newton steps Firth's method gets; it converges in well under 20 where it converges at all.
FIRTH_MAX_ITER = 25


def _separating_columns(X: np.ndarray, y: np.ndarray) -> list[int]:
    """Indicator columns whose set rows all share one outcome: their maximum-likelihood effect is infinite."""
    columns = []
    for j in range(X.shape[1]):
        column = X[:, j]
        on = column == 1
        if on.any() and np.isin(column, (0.0, 1.0)).all() and len(np.unique(y[on])) == 1:
            columns.append(j)
    return columns


class StatsmodelsScorecard(ClassifierMixin, BaseEstimator):
    """Unpenalised logistic regression by maximum likelihood (Newton), with inference statistics.

    When the outcome is separated (an indicator whose rows are all good or all bad, so the MLE does not
    exist), the fit falls back to Firth's penalised likelihood; ``estimation_`` says which was used and
    ``separating_columns_`` which columns caused it.

    Parameters
    ----------
    max_iter:
        Newton iterations before giving up; the fit must converge or it raises.
    """

    def __init__(self, max_iter: int = 100) -> None:
        self.max_iter = max_iter

    def fit(self, X, y) -> StatsmodelsScorecard:
        """Fit by maximum likelihood; refuse a fit that did not converge."""
        X, y = validate_data(self, X, y, dtype="float64")
        self.classes_ = np.unique(y)
        if list(self.classes_) != [0, 1]:
            raise ValueError(f"the scorecard needs a 0/1 target, got classes {list(self.classes_)}")
        self.separating_columns_ = _separating_columns(X, y)
        if self.separating_columns_:  # the MLE does not exist: go straight to the penalised fit
            return self._fit_firth(X, y)
        design = add_constant(X, has_constant="add")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = Logit(y, design).fit(method="newton", maxiter=self.max_iter, disp=0)
        if result.mle_retvals.get("converged", False):
            params = np.asarray(result.params)
            self.intercept_ = params[:1].copy()
            self.coef_ = params[1:].reshape(1, -1).copy()
            self.bse_ = np.asarray(result.bse)
            self.pvalues_ = np.asarray(result.pvalues)
            self.n_iter_ = np.array([result.mle_retvals.get("iterations", 0)])
            self.estimation_ = "maximum likelihood"
            return self
        return self._fit_firth(X, y)

    def _fit_firth(self, X: np.ndarray, y: np.ndarray) -> StatsmodelsScorecard:
        """Firth's penalised likelihood: finite estimates where (quasi-)separation makes the MLE infinite.

        Separation happens in practice when a category (or a pooled 'infrequent' level) holds only good or
        only bad outcomes in the fitting sample, e.g. in a short recent window; Firth's method is the standard
        remedy and keeps Wald standard errors and p-values for the validator.
        """
        from firthmodels import FirthLogisticRegression

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            firth = FirthLogisticRegression(backend="numpy", max_iter=FIRTH_MAX_ITER).fit(X, y)
        if not firth.converged_:
            return self._fit_ridge(X, y)
        # firthmodels puts the intercept last; this estimator keeps it first, like statsmodels
        self.intercept_ = np.array([firth.intercept_])
        self.coef_ = np.asarray(firth.coef_).reshape(1, -1).copy()
        self.bse_ = np.concatenate([firth.bse_[-1:], firth.bse_[:-1]])
        self.pvalues_ = np.concatenate([firth.pvalues_[-1:], firth.pvalues_[:-1]])
        self.n_iter_ = np.array([firth.n_iter_])
        self.estimation_ = "Firth penalised likelihood"
        return self

    def _fit_ridge(self, X: np.ndarray, y: np.ndarray) -> StatsmodelsScorecard:
        """L2-penalised likelihood (C = 1, intercept unpenalised): the last resort when Firth does not converge.

        It always has a unique solution. Standard errors come from the penalised information matrix, so they
        are conditional on the penalty; ``estimation_`` says so, and the validator reads it in the documents.
        """
        model = LogisticRegression(C=RIDGE_C, solver="newton-cholesky", max_iter=100).fit(X, y)
        p = model.predict_proba(X)[:, 1]
        design = np.column_stack([np.ones(len(X)), X])
        information = design.T @ (design * (p * (1 - p))[:, None])
        information[1:, 1:] += np.eye(X.shape[1]) / RIDGE_C
        bse = np.sqrt(np.clip(np.diag(np.linalg.pinv(information)), 0.0, None))
        coef = np.concatenate([model.intercept_, model.coef_[0]])
        self.intercept_ = model.intercept_.copy()
        self.coef_ = model.coef_.copy()
        self.bse_ = bse
        self.pvalues_ = 2 * norm.sf(np.abs(np.divide(coef, bse, out=np.zeros_like(coef), where=bse > 0)))
        self.n_iter_ = np.asarray(model.n_iter_).reshape(-1)[:1]
        self.estimation_ = (
            f"L2-penalised likelihood (C={RIDGE_C}), after maximum likelihood and Firth's method did not converge"
        )
        return self

    def decision_function(self, X) -> np.ndarray:
        """Log-odds of the adverse outcome."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype="float64", reset=False)
        return X @ self.coef_.T[:, 0] + self.intercept_[0]

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of class 0 and class 1 (the adverse outcome)."""
        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """The more likely class."""
        return (self.decision_function(X) > 0).astype(int)

    def coefficient_table(self, feature_names: list[str]) -> pd.DataFrame:
        """Coefficient, standard error, Wald z, p-value and odds ratio per term."""
        check_is_fitted(self)
        names = ["intercept", *feature_names]
        coef = np.concatenate([self.intercept_, self.coef_[0]])
        return pd.DataFrame(
            {
                "term": names,
                "coefficient": coef,
                "std_error": self.bse_,
                "z": coef / self.bse_,
                "p_value": self.pvalues_,
                "odds_ratio": np.exp(coef),
                "estimation": self.estimation_,
            }
        )

    def to_sklearn(self) -> LogisticRegression:
        """A fitted ``LogisticRegression`` with exactly these coefficients, for a scikit-learn-only artefact."""
        check_is_fitted(self)
        model = LogisticRegression(penalty=None)
        model.classes_ = self.classes_.copy()
        model.coef_ = self.coef_.copy()
        model.intercept_ = self.intercept_.copy()
        model.n_features_in_ = self.n_features_in_
        model.n_iter_ = self.n_iter_.copy()
        return model
