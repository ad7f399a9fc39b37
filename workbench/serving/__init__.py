"""The production scoring server: approved versions only, durable decision records, reason codes, rollout."""

from workbench.serving._asgi import app_from_environment, create_app
from workbench.serving._auth import TokenIndex
from workbench.serving._decision_store import (
    DecisionStore,
    DecisionStoreUnavailable,
    decision_store_url,
    migrate_decision_database,
    new_decision_id,
    open_decision_store,
)
from workbench.serving._deployment import Deployment, DeploymentError, GenericScorer, load_deployment
from workbench.serving._fleet import Fleet, models_with_champion
from workbench.serving._inputs import InputError, InputProblem, InputSchema
from workbench.serving._replay import DecisionNotFoundError, Replay, replay_decision
from workbench.serving._rollout import CanaryJudge
from workbench.serving._server import ModelServer

#: How ``workbench serve`` runs uvicorn: the app factory by import string, uvloop and httptools, uvicorn's own
#: worker processes (``workers``), and its timeouts for idle connections and for a graceful stop.
UVICORN_CONFIG = {
    "app": "workbench.serving._asgi:app_from_environment",
    "factory": True,
    "loop": "uvloop",
    "http": "httptools",
    "log_level": "warning",
    "access_log": False,
    "timeout_keep_alive": 5,
    "timeout_graceful_shutdown": 10,
}

__all__ = [
    "UVICORN_CONFIG",
    "CanaryJudge",
    "DecisionNotFoundError",
    "DecisionStore",
    "DecisionStoreUnavailable",
    "Deployment",
    "DeploymentError",
    "Fleet",
    "GenericScorer",
    "InputError",
    "InputProblem",
    "InputSchema",
    "ModelServer",
    "Replay",
    "TokenIndex",
    "app_from_environment",
    "create_app",
    "decision_store_url",
    "load_deployment",
    "migrate_decision_database",
    "models_with_champion",
    "new_decision_id",
    "open_decision_store",
    "replay_decision",
]
