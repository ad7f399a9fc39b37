"""Scoring a frame of checked inputs exactly as the scoring server scores a request.

The server's deployment (``workbench.serving.load_deployment``) is loaded once: only an approved version whose
artefact hashes to the approved sha256, with the compiled path that was checked against the artefact's own
``predict_proba`` on the whole validation sample. This module adds no arithmetic of its own: scores and
contributions come from the deployment's scorer, decisions from the spec's decision rule, reasons from
``workbench.decision.spec_reason_codes``, as in ``ModelServer.decide``.

The one thing done differently is how inputs reach the compiled tables. The server builds one encoded row from
a dict per application; here a whole column is put through the same tables at once (``offset + slope * x``
for numbers, the level's block for categories), which gives the same bits and costs a fraction per row. The
tree and logistic paths then run on the encoded matrix exactly as for a request of many applications.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from workbench.batch._ids import batch_decision_id
from workbench.decision import spec_reason_codes

#: rows scored at once: bounds the tree path's rows x trees x splits arrays to tens of megabytes
CHUNK_ROWS = 10_000

#: the columns every batch output starts with, before the model's inputs and any passed-through columns
OUTPUT_COLUMNS = (
    "id",
    "time",
    "model",
    "version",
    "model_sha256",
    "route",
    "score",
    "decision",
    "top_reason",
    "reasons",
)


def encode_frame(encoder: Any, frame: pd.DataFrame) -> np.ndarray:
    """The compiled encoder's tables applied column-wise: the matrix its ``encode`` builds row by row."""
    out = np.zeros((len(frame), encoder.width), dtype=float)
    for name, affine, missing in encoder.numeric_plan:
        values = frame[name].to_numpy(dtype=float)
        absent = np.isnan(values)
        for column, offset, slope in affine:
            out[:, column] = offset + slope * values
        if absent.any():
            for column, filled in missing:
                out[absent, column] = filled
    for name, blocks in encoder.category_plan:
        values = frame[name].to_numpy(dtype=object)
        for level, block in blocks.items():
            where = values == level
            if block and where.any():
                for column, filled in block:
                    out[where, column] = filled
    return out


class BatchScorer:
    """What executors need to decide a frame of inputs: the deployment's scorer, spec and rule (picklable)."""

    def __init__(self, deployment: Any) -> None:
        self.name = deployment.name
        self.version = int(deployment.version)
        self.model_sha256 = deployment.model_sha256
        self.spec = deployment.spec
        self.rule = deployment.rule
        self.scorer = deployment.scorer
        self.path = deployment.path
        self.features = list(deployment.spec.features.all)
        self.numeric = list(deployment.spec.features.numeric)

    def scores_and_contributions(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Scores and contributions of checked inputs (numbers as floats with NaN missing, categories as text)."""
        compiled = getattr(self.scorer, "encoder", None)
        if compiled is not None and hasattr(self.scorer, "path"):
            log_odds, contributions = self.scorer.path.log_odds_and_contributions(encode_frame(compiled, frame))
            return 1.0 / (1.0 + np.exp(-log_odds)), contributions
        rows = frame[self.features].astype(object).where(frame[self.features].notna(), None).to_dict("records")
        return self.scorer.score(rows)

    def decide(self, frame: pd.DataFrame, batch_id: str, part: int, first_row: int, when: datetime) -> pd.DataFrame:
        """The output rows of a frame of checked inputs: id, score, decision, reasons, inputs, other columns."""
        pieces = []
        for start in range(0, max(len(frame), 1), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            if chunk.empty:
                continue
            scores, contributions = self.scores_and_contributions(chunk)
            reasons = spec_reason_codes(self.spec, contributions)
            ids = [batch_decision_id(batch_id, part, first_row + start + i) for i in range(len(chunk))]
            head = pd.DataFrame(
                {
                    "id": ids,
                    "time": pd.Series([when] * len(chunk), dtype="datetime64[us, UTC]"),
                    "model": self.name,
                    "version": np.full(len(chunk), self.version, dtype=np.int64),
                    "model_sha256": self.model_sha256,
                    "route": "batch",
                    "score": scores.astype(float),
                    "decision": self.rule.labels(scores),
                    "top_reason": [r[0]["feature"] if r else None for r in reasons],
                    "reasons": [orjson.dumps(r).decode() for r in reasons],
                }
            )
            rest = chunk.reset_index(drop=True)
            pieces.append(pd.concat([head, rest], axis=1))
        if not pieces:
            return self.empty_output(frame)
        return pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]

    def empty_output(self, frame: pd.DataFrame) -> pd.DataFrame:
        """An output frame with no rows and the output's columns."""
        head = pd.DataFrame({c: pd.Series(dtype=object) for c in OUTPUT_COLUMNS})
        return pd.concat([head, frame.iloc[0:0].reset_index(drop=True)], axis=1)
