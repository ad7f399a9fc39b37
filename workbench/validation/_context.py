"""What every validation test works on: the registered model and re-derived samples, never training state.

``load_context`` rebuilds everything from the registry: the spec logged on the version's run, the data checked
against the recorded sha256, the split re-derived from the spec and checked against the recorded split hash,
and the model artefact loaded from the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.pipeline import Pipeline

from workbench.data import ModelData, Split, adverse_target, load_model_data, make_split, model_inputs
from workbench.decision import DecisionRule, decision_rule
from workbench.kinds import kind_of
from workbench.registry import configure, get_version, load_model, recorded_spec
from workbench.spec import ModelSpec, group_labels
from workbench.training import FAMILIES


class ModelMismatchError(ValueError):
    """The registered model does not take the inputs the spec describes."""


class SplitMismatchError(ValueError):
    """The re-derived validation sample differs from the one recorded at training."""


@dataclass
class ValidationContext:
    """The registered model, the development and validation samples, and their protected groups."""

    spec: ModelSpec
    model: Pipeline
    data: ModelData
    split: Split
    name: str = ""
    version: int = 0
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        expected = list(self.spec.features.all)
        actual = list(getattr(self.model, "feature_names_in_", expected))
        if actual != expected:
            missing = [c for c in expected if c not in actual]
            extra = [c for c in actual if c not in expected]
            raise ModelMismatchError(
                f"the model's inputs do not match the spec's features: missing from the model {missing}, "
                f"not in the spec {extra}"
                if missing or extra
                else f"the model takes the spec's features in a different order: {actual}"
            )

    @cached_property
    def inputs(self) -> pd.DataFrame:
        """All rows as model inputs."""
        return model_inputs(self.data.frame, self.spec)

    @cached_property
    def target(self) -> np.ndarray:
        """1 for the adverse outcome."""
        return adverse_target(self.data.frame, self.spec).to_numpy().astype(int)

    @property
    def x_dev(self) -> pd.DataFrame:
        """Development-sample inputs."""
        return self.inputs.iloc[self.split.development]

    @property
    def x_val(self) -> pd.DataFrame:
        """Validation-sample inputs."""
        return self.inputs.iloc[self.split.validation]

    @property
    def y_dev(self) -> np.ndarray:
        """Development-sample outcomes."""
        return self.target[self.split.development]

    @property
    def y_val(self) -> np.ndarray:
        """Validation-sample outcomes."""
        return self.target[self.split.validation]

    def groups(self, sample: str = "validation") -> pd.DataFrame:
        """Protected-group labels of a sample, one column per attribute name."""
        rows = self.split.validation if sample == "validation" else self.split.development
        frame = self.data.frame.iloc[rows]
        return pd.DataFrame(
            {a.name: group_labels(frame[a.data_column]).to_numpy() for a in self.spec.protected_attributes}
        )

    def raw(self, sample: str = "validation") -> pd.DataFrame:
        """The loaded rows of a sample, all columns."""
        rows = self.split.validation if sample == "validation" else self.split.development
        return self.data.frame.iloc[rows].reset_index(drop=True)

    def score(self, inputs: pd.DataFrame) -> np.ndarray:
        """The model's probability of the adverse outcome."""
        return self.model.predict_proba(inputs)[:, 1]

    @cached_property
    def p_dev(self) -> np.ndarray:
        """Scores of the development sample."""
        return self.score(self.x_dev)

    @cached_property
    def p_val(self) -> np.ndarray:
        """Scores of the validation sample."""
        return self.score(self.x_val)

    @cached_property
    def benchmark(self) -> Pipeline:
        """The validator's own logistic regression, fitted on the development sample.

        The kind declares it: a scorecard for credit; for fraud a class-weighted penalised logit, since an
        unpenalised fit on a rare outcome with velocity features separates easily.
        """
        family, params = kind_of(self.spec).benchmark
        pipeline = FAMILIES[family].build(
            self.spec.features.numeric,
            self.spec.features.categorical,
            min_category_count=self.spec.thresholds.min_category_count,
            seed=self.spec.split.seed,
            **dict(params),
        )
        return pipeline.fit(self.x_dev, self.y_dev)

    @cached_property
    def p_benchmark(self) -> np.ndarray:
        """Benchmark scores of the validation sample."""
        return self.benchmark.predict_proba(self.x_val)[:, 1]

    def sample(self, max_rows: int, sample: str = "development") -> tuple[pd.DataFrame, np.ndarray]:
        """At most ``max_rows`` rows of a sample (seeded, stratified by nothing): for the costly tests on big data.

        Below the cap the whole sample is returned, so results on ordinary data sets are exact.
        """
        x, y = (self.x_dev, self.y_dev) if sample == "development" else (self.x_val, self.y_val)
        if len(x) <= max_rows:
            return x, y
        rows = np.sort(np.random.default_rng(self.spec.split.seed).choice(len(x), max_rows, replace=False))
        return x.iloc[rows], y[rows]

    @cached_property
    def rule(self) -> DecisionRule:
        """The spec's decision rule (the one every path uses)."""
        return decision_rule(self.spec)

    @property
    def decisions(self) -> np.ndarray:
        """1 where the decision rule takes the adverse decision on the validation sample."""
        return self.rule.adverse(self.p_val).astype(int)


def load_context(name: str, version: int | str, client: MlflowClient | None = None) -> ValidationContext:
    """Rebuild the validation context of a registered version from the registry alone."""
    client = client or configure()
    record = get_version(client, name, version)
    tags = dict(record.tags)
    spec = recorded_spec(client, record.run_id)
    data = load_model_data(spec, expected_sha256=tags.get("data_sha256"))
    split = make_split(data.frame, spec)
    if tags.get("split_sha256") and split.sha256 != tags["split_sha256"]:
        raise SplitMismatchError(
            f"the validation sample re-derived from the spec (split sha256 {split.sha256[:12]}...) differs from "
            f"the one recorded at training ({tags['split_sha256'][:12]}...)"
        )
    model = load_model(name, record.version)
    return ValidationContext(
        spec=spec, model=model, data=data, split=split, name=name, version=int(record.version), tags=tags
    )
