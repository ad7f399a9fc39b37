"""The model spec schema: one YAML file describes a model, and it is also the Papermill parameters.

Everything a model needs that is not code lives here, so onboarding a new model or data set is writing a
spec. Every model is strict (unknown keys are refused) so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.estimators import FAMILIES
from workbench.kinds import KINDS, spec_key_problems
from workbench.policy import DEFAULT_FRAMEWORKS, framework_names
from workbench.spec._labels import label_key


class KeyedProblems(ValueError):
    """Cross-field problems that each know their own spec key (pydantic would file them under the root)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {message}" for key, message in problems))


NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_Strict):
    """Where the data comes from: a data set shipped with the package, or a file."""

    name: str | None = Field(None, description="shipped data set name, e.g. german_credit")
    path: str | None = Field(None, description="CSV or parquet file; relative paths start at the project root")
    format: Literal["csv", "parquet"] | None = Field(None, description="file format; inferred from the suffix")
    sha256: str | None = Field(None, description="expected sha256 of the file; a mismatch refuses the run")
    rows: int | None = Field(None, ge=100, description="generated data sets: how many rows to draw")
    seed: int | None = Field(None, ge=0, description="generated data sets: the seed the rows are drawn with")

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.name is None) == (self.path is None):
            raise ValueError("give exactly one of 'name' (a shipped data set) or 'path' (a CSV/parquet file)")
        if self.path is not None and (self.rows is not None or self.seed is not None):
            raise ValueError("'rows' and 'seed' are for generated data sets (name), not for a file")
        if self.path is not None and self.format is None:
            suffix = Path(self.path).suffix.lower()
            if suffix not in {".csv", ".parquet", ".pq"}:
                raise ValueError(f"cannot infer the format of {self.path!r}; set 'format' to csv or parquet")
        if self.sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return self

    @property
    def file_format(self) -> str:
        """The file format, declared or inferred from the suffix."""
        if self.format:
            return self.format
        return "csv" if Path(self.path or "").suffix.lower() == ".csv" else "parquet"


Label = bool | int | float | str


def _as_list(value: Label | list[Label] | None) -> list[Label]:
    return [] if value is None else list(value) if isinstance(value, list) else [value]


class TargetSpec(_Strict):
    """The outcome column and which of its values are the adverse outcome (modelled as 1).

    ``adverse_value`` is one value or a list (e.g. ``[Charged Off, "Late (31-120 days)"]``); every other
    value is favourable, unless ``favourable_value`` lists the favourable ones, in which case a value in
    neither list is an error. Values match whatever type the column has (``1``, ``"1"`` and ``1.0`` are one
    label).
    """

    column: str
    adverse_value: Label | list[Label]
    favourable_value: Label | list[Label] | None = None
    arrival_column: str | None = Field(
        None, description="when each label became known (a chargeback's arrival); features may use only earlier ones"
    )
    pattern_column: str | None = Field(
        None, description="fraud: the pattern of each adverse case (e.g. account_takeover), for recall per pattern"
    )

    @model_validator(mode="after")
    def _labels_given_once(self) -> TargetSpec:
        if not self.adverse_labels:
            raise ValueError("adverse_value: name at least one value")
        both = self.adverse_labels & (self.favourable_labels or frozenset())
        if both:
            raise ValueError(f"{', '.join(sorted(both))} cannot be both adverse_value and favourable_value")
        return self

    @property
    def adverse_labels(self) -> frozenset[str]:
        """The adverse values as canonical labels."""
        return frozenset(k for k in map(label_key, _as_list(self.adverse_value)) if k is not None)

    @property
    def favourable_labels(self) -> frozenset[str] | None:
        """The favourable values as canonical labels, or None when every other value is favourable."""
        if self.favourable_value is None:
            return None
        return frozenset(k for k in map(label_key, _as_list(self.favourable_value)) if k is not None)


WINDOW_PATTERN = r"^[1-9][0-9]*[hd]$"
STORE_FUNCTIONS = ("count", "sum", "mean", "max", "time_since_last", "amount_zscore", "chargeback_rate")


class StoreFeature(_Strict):
    """A feature computed by the feature store from an entity's past events (fraud models).

    ``count``, ``sum``, ``mean`` and ``max`` aggregate ``column`` over the entity's events in the ``window`` up
    to its previous event; ``time_since_last`` is the seconds since the entity's previous event;
    ``amount_zscore`` is the event's ``column`` against the mean and standard deviation of the entity's
    ``window``; ``chargeback_rate`` is the share of the entity's events in the ``window`` whose chargeback had
    arrived (``target.arrival_column``) by the day of the event.
    """

    name: str
    entity: str
    function: Literal["count", "sum", "mean", "max", "time_since_last", "amount_zscore", "chargeback_rate"]
    window: str | None = Field(None, description="e.g. 1h, 24h, 7d, 30d")
    column: str = Field("amount", description="the event field aggregated")

    @field_validator("window")
    @classmethod
    def _window_form(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(WINDOW_PATTERN, value):
            raise ValueError(f"{value!r} is not a window: a whole number of hours or days, e.g. 1h, 24h, 7d, 30d")
        return value

    @model_validator(mode="after")
    def _window_when_needed(self) -> StoreFeature:
        if self.function != "time_since_last" and self.window is None:
            raise ValueError(f"function {self.function} needs a window (e.g. 1h, 24h, 7d)")
        if self.function == "chargeback_rate" and self.window is not None and not self.window.endswith("d"):
            raise ValueError("a chargeback_rate window is in days (e.g. 30d): labels are counted by day")
        return self


class FeatureSpec(_Strict):
    """Model inputs by type; the type decides preprocessing and is checked against the data.

    ``from_store`` defines inputs the feature store computes (fraud models); each one's name must also be
    listed in ``numeric``, which stays the one list of model inputs in their order.
    """

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    from_store: list[StoreFeature] = Field(default_factory=list)

    @model_validator(mode="after")
    def _non_empty_and_unique(self) -> FeatureSpec:
        if not self.numeric and not self.categorical:
            raise ValueError("at least one numeric or categorical feature is required")
        seen: set[str] = set()
        for name in self.all:
            if name in seen:
                raise ValueError(f"feature {name!r} is listed twice")
            seen.add(name)
        return self

    @property
    def all(self) -> list[str]:
        """Every feature, numeric first, in spec order (the model's column order)."""
        return [*self.numeric, *self.categorical]

    def location_of(self, name: str) -> str:
        """The spec key of a feature, for error messages."""
        if name in self.numeric:
            return f"features.numeric[{self.numeric.index(name)}]"
        return f"features.categorical[{self.categorical.index(name)}]"


class BandSpec(_Strict):
    """Derive a protected group from a numeric column, e.g. an age band."""

    source: str
    edges: list[float] = Field(min_length=1)
    labels: list[str]

    @model_validator(mode="after")
    def _labels_fit_edges(self) -> BandSpec:
        if sorted(self.edges) != list(self.edges) or len(set(self.edges)) != len(self.edges):
            raise ValueError("edges must be strictly increasing")
        if len(self.labels) != len(self.edges) + 1:
            raise ValueError(f"{len(self.edges)} edge(s) need {len(self.edges) + 1} labels, got {len(self.labels)}")
        return self


class ProtectedAttribute(_Strict):
    """A group attribute used for fairness analysis and never as a model input.

    ``derived_from`` names raw columns that encode the attribute (e.g. a combined personal-status-and-sex
    code); they are barred from the features as well, since they would carry the attribute into the model.
    """

    name: str
    column: str | None = None
    reference: str = Field(description="the reference (most favoured) group for ratios, as the column types it")
    band: BandSpec | None = None
    derived_from: list[str] = Field(default_factory=list)

    @field_validator("reference", mode="before")
    @classmethod
    def _canonical_reference(cls, value: Any) -> Any:
        # 0, "0", 0.0 and "0.0" name the same group: keep the one canonical text groups are compared in
        return label_key(value) if isinstance(value, bool | int | float | str) else value

    @property
    def data_column(self) -> str:
        """The column holding the group labels."""
        return self.column or self.name

    @property
    def barred_columns(self) -> list[str]:
        """Columns that must not be model inputs because they carry this attribute."""
        barred = [self.data_column, *self.derived_from]
        if self.band is not None:
            barred.append(self.band.source)
        return barred


class FairnessSpec(_Strict):
    """How fairness is assessed: the least group size judged, attributes screened only, the alternatives searched.

    ``screening_attributes`` are columns that are never model inputs and are not assessed for disparate
    impact, but the proxy screen asks how well the inputs predict them (e.g. a marital status the lender may
    not use). A model with no protected attribute cannot be assessed for disparate impact; that is a medium
    finding unless ``no_protected_attributes_reason`` records why.
    """

    min_group_size: int = Field(
        30, ge=1, description="groups with fewer validation applicants are shown as too few to assess, never judged"
    )
    screening_attributes: list[str] = Field(
        default_factory=list, description="columns screened for proxies only: never inputs, not assessed"
    )
    no_protected_attributes_reason: str | None = Field(
        None, description="why no protected attribute is given; without it, none is a medium finding"
    )
    alternative_auc_tolerance: float = Field(
        0.01, ge=0.0, le=0.2, description="an alternative within this AUC of the chosen model is comparable"
    )
    alternative_cutoffs: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(
        default_factory=list, description="further cut-offs shown in the less discriminatory alternative search"
    )
    basis: dict[str, str] = Field(
        default_factory=dict,
        description="the committee's reading of each protected attribute (by name): is it a protected basis in law, "
        "and why is it assessed; printed in the documents",
    )

    @model_validator(mode="after")
    def _well_formed(self) -> FairnessSpec:
        problems = []
        for i, column in enumerate(self.screening_attributes):
            if column in self.screening_attributes[:i]:
                problems.append((f"fairness.screening_attributes[{i}]", f"{column!r} is listed twice"))
        if self.no_protected_attributes_reason is not None and not self.no_protected_attributes_reason.strip():
            problems.append(("fairness.no_protected_attributes_reason", "give the reason in words, or leave it out"))
        if problems:
            raise KeyedProblems(problems)
        return self


class SplitSpec(_Strict):
    """How the development and validation samples are drawn; deterministic given the seed."""

    method: Literal["random", "out_of_time"] = "random"
    validation_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    seed: int = Field(42, ge=0)
    stratify: bool = True
    date_column: str | None = None
    validation_start: date | None = None

    @model_validator(mode="after")
    def _out_of_time_needs_date(self) -> SplitSpec:
        if self.method == "out_of_time" and (self.date_column is None or self.validation_start is None):
            raise ValueError("method out_of_time needs 'date_column' and 'validation_start'")
        return self


class CandidateSpec(_Strict):
    """One candidate model family with its hyper-parameters."""

    family: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("family")
    @classmethod
    def _known_family(cls, value: str) -> str:
        if value not in FAMILIES:
            raise ValueError(f"unknown model family {value!r}; known: {', '.join(sorted(FAMILIES))}")
        return value


class SelectionSpec(_Strict):
    """How the champion is chosen among candidates on the development sample only."""

    cv_folds: int = Field(5, ge=2, le=20)
    prefer_interpretable_within: float = Field(
        0.01, ge=0.0, le=0.5, description="keep the interpretable candidate unless another beats its CV AUC by more"
    )


class CostSpec(_Strict):
    """Cost of each wrong decision, for expected-cost analysis and cut-off choice."""

    approve_adverse: float = Field(5.0, ge=0.0, description="cost of approving a case with the adverse outcome")
    decline_good: float = Field(1.0, ge=0.0, description="cost of declining a good case")


class DecisionSpec(_Strict):
    """The decision policy applied to the model score (probability of the adverse outcome).

    Credit declines at ``cutoff``. Fraud alerts within a review budget, ``alert_rate`` (share of transactions
    sent to review) or ``max_alerts_per_day``; training turns the budget into the threshold on the development
    sample and records it as ``cutoff`` in the registered spec. A missed fraud costs its amount
    (``amount_column``); a review costs ``review_cost``. Propensity contacts the top ``contact_share`` of scores,
    or without it everyone whose expected profit (score x ``value`` - ``contact_cost``) is not negative; the
    threshold is recorded as ``cutoff`` the same way. Which keys a kind accepts is declared by the kind
    (``workbench.kinds``).
    """

    cutoff: float | None = Field(None, gt=0.0, lt=1.0, description="decline when the score is at or above this")
    alert_rate: float | None = Field(None, gt=0.0, lt=0.5, description="fraud: share of transactions reviewed")
    max_alerts_per_day: float | None = Field(None, gt=0.0, description="fraud: reviews the team can do per day")
    review_cost: float = Field(5.0, ge=0.0, description="fraud: cost of reviewing one alert")
    amount_column: str | None = Field(None, description="fraud: the transaction amount, the cost of a missed fraud")
    contact_share: float | None = Field(
        None, gt=0.0, lt=1.0, description="propensity: share of customers contacted, the top scores"
    )
    contact_cost: float | None = Field(None, ge=0.0, description="propensity: cost of one contact")
    value: float | None = Field(None, gt=0.0, description="propensity: value (margin) of one sale")
    reason_codes: int = Field(4, ge=1, le=10)
    costs: CostSpec = Field(default_factory=CostSpec)
    adverse_action_texts: dict[str, str] = Field(default_factory=dict)


class Thresholds(_Strict):
    """Limits that decide pass / warn / fail across data validation, validation, fairness and monitoring."""

    min_auc: float = Field(0.70, ge=0.5, le=1.0)
    min_gini: float = Field(0.40, ge=0.0, le=1.0)
    min_ks: float = Field(0.25, ge=0.0, le=1.0)
    psi_warn: float = Field(0.10, gt=0.0, le=10.0)
    max_psi: float = Field(0.25, gt=0.0, le=10.0)
    calibration_p_value: float = Field(0.05, gt=0.0, lt=1.0)
    asset_correlation: float = Field(
        0.12,
        ge=0.0,
        lt=1.0,
        description="asset correlation of the one-factor (Vasicek) model in the correlated binomial back-test; "
        "Basel II IRB: corporates 0.12-0.24 (falling with PD), residential mortgages 0.15, qualifying revolving "
        "retail 0.04, other retail 0.03-0.16",
    )
    disparate_impact_floor: float = Field(0.80, gt=0.0, le=1.0)
    max_missing_rate: float = Field(0.20, ge=0.0, le=1.0)
    min_adverse_count: int = Field(50, ge=1)
    max_categories: int = Field(30, ge=2)
    min_category_count: int = Field(10, ge=1, description="rarer levels are pooled into one 'infrequent' level")
    max_single_feature_auc: float = Field(
        0.95, gt=0.5, le=1.0, description="a feature separating the outcome this well alone is screened as leakage"
    )
    min_average_precision: float = Field(
        0.10, ge=0.0, le=1.0, description="fraud: least average precision (area under precision-recall)"
    )
    min_recall_at_budget: float = Field(
        0.30, ge=0.0, le=1.0, description="fraud: least share of frauds alerted within the alert budget"
    )
    min_top_decile_lift: float = Field(
        2.0, ge=1.0, description="propensity: least lift of the top score decile (its response rate / the base rate)"
    )

    @model_validator(mode="after")
    def _bands_ordered(self) -> Thresholds:
        if self.psi_warn >= self.max_psi:
            raise ValueError("psi_warn must be below max_psi")
        return self


class RolloutLimits(_Strict):
    """When a canary is rolled back, judged over its most recent requests.

    Error rate and p99 latency are judged once ``min_requests`` came; the score PSI only on a full ``window``,
    because PSI on a few dozen scores is mostly sampling noise (about 0.3 at 50 scores for identical models).
    """

    canary_share: float = Field(0.10, gt=0.0, lt=1.0, description="share of traffic answered by the canary")
    window: int = Field(500, ge=10, description="most recent canary requests judged; score PSI needs it full")
    min_requests: int = Field(50, ge=5, description="no verdict before this many canary requests")
    max_error_rate: float = Field(0.02, ge=0.0, le=1.0)
    max_p99_ms: float = Field(50.0, gt=0.0, description="p99 of the canary model's scoring time, milliseconds")
    max_score_psi: float = Field(0.25, gt=0.0, description="PSI of canary scores against the champion's")

    @model_validator(mode="after")
    def _window_holds_minimum(self) -> RolloutLimits:
        if self.min_requests > self.window:
            raise KeyedProblems(
                [("serving.rollout.min_requests", f"{self.min_requests} exceeds the window of {self.window}")]
            )
        return self


class ServingSpec(_Strict):
    """What the scoring server accepts and how it rolls out a challenger."""

    max_batch: int = Field(1000, ge=1, description="most applications in one request")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="larger bodies get 413")
    input_ranges: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="accepted [low, high] per numeric feature; default: observed range widened"
    )
    range_margin: float = Field(
        0.5, ge=0.0, le=10.0, description="default ranges widen the observed range by this share of its span"
    )
    rollout: RolloutLimits = Field(default_factory=RolloutLimits)

    @model_validator(mode="after")
    def _ranges_ordered(self) -> ServingSpec:
        for name, (low, high) in self.input_ranges.items():
            if not low < high:
                raise KeyedProblems([(f"serving.input_ranges.{name}", f"low {low} must be below high {high}")])
        return self


class MonitoringSpec(_Strict):
    """How production is watched: the period, the least rows a period needs to be judged, when to alert."""

    period: Literal["D", "W", "M"] = Field("W", description="day, week or month")
    min_period_rows: int = Field(200, ge=10, description="fewer decisions in a period: drift is shown, not judged")
    min_labelled: int = Field(100, ge=10, description="labelled decisions a period needs before AUC is judged")
    min_group_decisions: int = Field(30, ge=5, description="decisions per protected group before its ratio is judged")
    alert_after_periods: int = Field(1, ge=1, le=12, description="consecutive breaching periods that raise an alert")
    label_window_days: int = Field(
        90, ge=1, le=730, description="fraud: days after which every chargeback of a period has arrived (recall waits)"
    )


class DocumentationSpec(_Strict):
    """What the model document adds to its SR 11-7 outline: a cross-reference to each framework named here."""

    frameworks: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FRAMEWORKS),
        description="regulatory frameworks the document's sections are mapped to (see workbench.policy)",
    )

    @field_validator("frameworks")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        known = framework_names()
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"{name!r} is not a known framework{hint}; known: {', '.join(known)}")
        if len(set(names)) != len(names):
            raise ValueError("a framework is named twice")
        return names


class FeatureStoreSpec(_Strict):
    """How the feature store is checked (fraud models)."""

    skew_sample: int = Field(40, ge=1, le=100_000, description="events replayed through the online path")
    skew_tolerance: float = Field(1e-9, ge=0.0, description="largest offline-online difference accepted")
    ttl_hours: int = Field(
        0,
        ge=0,
        description="Feast time-to-live of the views; 0 = none. With one, the offline join drops older values while "
        "the online store keeps serving them: a source of train-serve skew the skew check catches",
    )
    warm_up_days: int = Field(
        0, ge=0, le=365, description="the first days of events are history only: windowed features need them full"
    )
    when_missing: Literal["impute", "refuse"] = Field(
        "impute",
        description="serving, an entity with nothing in the online store (a new card): impute (the model's own "
        "imputation, as for a card's first transaction in training) or refuse the request (422)",
    )


class ModelSpec(_Strict):
    """The whole description of one model; the registered model name is ``name``.

    ``kind`` selects the model kind (credit by default; see ``workbench.kinds``): the kind declares the keys
    only it accepts and its own requirements (fraud needs ``entities``, ``event_time``, an out-of-time split
    and an alert budget; propensity the cost of a contact and the value of a sale).
    """

    name: str = Field(pattern=NAME_PATTERN)
    kind: str = "credit"
    entities: dict[str, str] = Field(
        default_factory=dict, description="fraud: entity name -> the event column holding its key, e.g. card: card_id"
    )
    event_time: str | None = Field(None, description="fraud: the column with each event's time")
    feature_store: FeatureStoreSpec = Field(default_factory=FeatureStoreSpec)
    title: str
    purpose: str
    intended_use: str
    intended_users: list[str] = Field(default_factory=list)
    owner: str
    risk_tier: Literal[1, 2, 3] = Field(description="1 = highest risk")
    dataset: DatasetSpec
    target: TargetSpec
    features: FeatureSpec
    protected_attributes: list[ProtectedAttribute] = Field(default_factory=list)
    fairness: FairnessSpec = Field(default_factory=FairnessSpec)
    split: SplitSpec = Field(default_factory=SplitSpec)
    candidates: list[CandidateSpec] = Field(min_length=1)
    selection: SelectionSpec = Field(default_factory=SelectionSpec)
    decision: DecisionSpec
    thresholds: Thresholds = Field(default_factory=Thresholds)
    serving: ServingSpec = Field(default_factory=ServingSpec)
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    documentation: DocumentationSpec = Field(default_factory=DocumentationSpec)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KINDS:
            close = difflib.get_close_matches(value, list(KINDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{value!r} is not a model kind{hint}; known: {', '.join(sorted(KINDS))}")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> ModelSpec:
        problems = []
        for i, attribute in enumerate(self.protected_attributes):
            for column in attribute.barred_columns:
                if column in self.features.all:
                    problems.append(
                        (
                            self.features.location_of(column),
                            f"{column!r} carries protected attribute {attribute.name!r} (protected_attributes[{i}]);"
                            " protected attributes are never model inputs",
                        )
                    )
        if self.target.column in self.features.all:
            problems.append((self.features.location_of(self.target.column), "the target cannot be a feature"))
        problems += self._fairness_problems()
        problems += spec_key_problems(self)
        texts = self.decision.adverse_action_texts
        untexted = [f for f in self.features.all if f not in texts]
        for key in texts:
            if key not in self.features.all:
                close = difflib.get_close_matches(key, untexted, n=1)
                if close:  # the root cause is more often the feature list: name it first
                    problems.insert(
                        0,
                        (
                            self.features.location_of(close[0]),
                            f"{close[0]!r} has no adverse-action text, and the texts name {key!r}, which is not a "
                            f"feature: is {close[0]!r} a misspelling of {key!r}?",
                        ),
                    )
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append((f"decision.adverse_action_texts.{key}", f"{key!r} is not a feature{hint}"))
        for key in self.serving.input_ranges:
            if key not in self.features.numeric:
                problems.append((f"serving.input_ranges.{key}", f"{key!r} is not a numeric feature"))
        if problems:
            raise KeyedProblems(problems)
        return self

    def _fairness_problems(self) -> list[tuple[str, str]]:
        """Screening attributes are no inputs, no target and no protected attribute; a reason needs no attributes."""
        problems = []
        protected = {column: i for i, a in enumerate(self.protected_attributes) for column in (a.name, a.data_column)}
        for i, column in enumerate(self.fairness.screening_attributes):
            key = f"fairness.screening_attributes[{i}]"
            if column in self.features.all:
                problems.append(
                    (
                        key,
                        f"{column!r} is a model input ({self.features.location_of(column)}); screening attributes "
                        "are never model inputs",
                    )
                )
            elif column == self.target.column:
                problems.append((key, f"{column!r} is the target"))
            elif column in protected:
                i_protected = protected[column]
                problems.append(
                    (
                        key,
                        f"{column!r} is already protected attribute {self.protected_attributes[i_protected].name!r} "
                        f"(protected_attributes[{i_protected}]), which the proxy screen covers",
                    )
                )
        names = {a.name for a in self.protected_attributes}
        for name in self.fairness.basis:
            if name not in names:
                problems.append((f"fairness.basis.{name}", f"{name!r} is not a protected attribute of the spec"))
        if self.fairness.no_protected_attributes_reason is not None and self.protected_attributes:
            problems.append(
                (
                    "fairness.no_protected_attributes_reason",
                    f"the spec lists {len(self.protected_attributes)} protected attribute(s); the reason is only for "
                    "a model with none",
                )
            )
        return problems
