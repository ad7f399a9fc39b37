"""Batch scoring: whole portfolios decided by an approved version with the scoring server's numbers, on pandas
or Apache Spark, each batch recorded in the audit trail and each decision replayable."""

from workbench.batch._batch import ENGINES, BatchResult, score_batch
from workbench.batch._errors import BatchError
from workbench.batch._ids import batch_decision_id, batch_of, new_batch_id
from workbench.batch._record import ACTION, BatchDecisions, batch_decisions, batch_record
from workbench.batch._scorer import OUTPUT_COLUMNS, BatchScorer, encode_frame

__all__ = [
    "ACTION",
    "ENGINES",
    "OUTPUT_COLUMNS",
    "BatchDecisions",
    "BatchError",
    "BatchResult",
    "BatchScorer",
    "batch_decision_id",
    "batch_decisions",
    "batch_of",
    "batch_record",
    "encode_frame",
    "new_batch_id",
    "score_batch",
]
