"""The scoring endpoints' behaviour, free of the web framework: model, token, headers and bytes in; status and
JSON out.

Every bad request gets its status with the field named: 401/403 for a missing or insufficient token, 404 for
a model not served, 413 for an oversized body or batch, 415 for a body that is not JSON, 400 for malformed
JSON, 422 for a contract breach (non-finite numbers included), 503 for a model that cannot be loaded or a
decision store that cannot record. Each answer is released only after its decision records are durable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from workbench.governance import User
from workbench.serving import _prometheus as metrics
from workbench.serving import _protocols as protocols
from workbench.serving._auth import TokenIndex
from workbench.serving._decision_store import DecisionStoreUnavailable
from workbench.serving._fleet import Fleet
from workbench.serving._inputs import InputError, InputProblem
from workbench.serving._online_features import OnlineFeaturesUnavailable
from workbench.serving._server import ModelServer

log = logging.getLogger("workbench.serving")

INLINE_ROWS = 16  # compiled scoring of this many rows runs on the event loop; more goes to a thread
DEFAULT_BODY_LIMIT = 1_048_576
#: longest name or text quoted back in an error message (a client may send a field name of any length)
QUOTE_LIMIT = 80


#: longest problem text (which may quote a value the client sent)
MESSAGE_LIMIT = 300


def quoted(text: Any, limit: int = QUOTE_LIMIT) -> str:
    """``text`` for an error message, cut to ``limit`` characters."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass
class Answer:
    """Status, JSON body and extra headers of one response."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        """The body as JSON bytes."""
        return orjson.dumps(self.body)


class HttpProblem(Exception):
    """An answer other than 200."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        self.answer = Answer(status, {"error": error, "message": message, **extra}, headers)


def invalid(error: InputError) -> HttpProblem:
    """The 422 for a broken input contract, listing every problem (names and texts cut to a readable length)."""
    problems = [
        {**p.as_dict(), "field": quoted(p.field), "problem": quoted(p.message, MESSAGE_LIMIT)}
        for p in error.problems[:50]
    ]
    return HttpProblem(422, "invalid_input", "the request breaks the model's input contract", problems=problems)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _finite(value: Any, where: str) -> None:
    """Refuse NaN and infinities anywhere in the document (JSON has neither; 1e999 parses as infinity)."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError([InputProblem(quoted(where) or "body", "must be a finite number")])
    elif isinstance(value, dict):
        for key, item in value.items():
            _finite(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _finite(item, f"{where}[{i}]")


class ScoringEndpoints:
    """Authentication, limits, protocol parsing, scoring and durable recording for every served model."""

    def __init__(self, fleet: Fleet, tokens: TokenIndex) -> None:
        self.fleet = fleet
        self.tokens = tokens

    # --- the steps of a request ---------------------------------------------------------------------------

    def authenticate(self, authorization: str | None, *roles: str) -> User:
        """The caller, who must hold one of ``roles``."""
        token = bearer_token(authorization)
        if token is None:
            raise HttpProblem(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
        user = self.tokens.user(token)
        if user is None:
            raise HttpProblem(401, "unauthenticated", "unknown or revoked token")
        if not any(user.has(r) for r in roles):
            raise HttpProblem(403, "forbidden", f"{user.name} does not hold the {' or '.join(roles)} role")
        return user

    def server(self, name: str | None) -> ModelServer:
        """The loaded model server of ``name`` (None: the only model served), or the 404/503 saying why not."""
        fleet = self.fleet
        if name is None:
            name = fleet.single
            if name is None:
                raise HttpProblem(
                    404, "choose_a_model", f"this server serves several models; POST /models/NAME/... ({fleet.names})"
                )
        server = fleet.servers.get(name)
        if server is not None and server.champion is not None:
            return server
        if name in fleet.refused:
            raise HttpProblem(503, "model_unavailable", f"{name} cannot be served: {fleet.refused[name]}")
        raise HttpProblem(404, "unknown_model", f"no model {quoted(name)!r} is served here; served: {fleet.names}")

    def body_limit(self, name: str | None) -> int:
        """Largest accepted body, from the model's spec."""
        server = self.fleet.servers.get(name or self.fleet.single or "")
        return server.champion.spec.serving.max_body_bytes if server and server.champion else DEFAULT_BODY_LIMIT

    @staticmethod
    def parse(body: bytes) -> Any:
        """The JSON document (400 when malformed; 422 naming the field for NaN, Infinity or 1e999)."""
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            try:  # Python's parser reads NaN and Infinity, so the refusal can name the field holding one
                lenient = json.loads(body)
            except ValueError:
                lenient = None
            _finite(lenient, "")
            raise HttpProblem(400, "malformed_json", f"the body is not valid JSON: {quoted(error)}") from None
        _finite(document, "")
        return document

    async def decide(self, server: ModelServer, records: Any, user: User) -> list[dict[str, Any]]:
        """Score, record durably, then judge the canary; returns the per-application answers."""
        champion = server.champion
        limit = champion.spec.serving.max_batch
        if isinstance(records, list) and len(records) > limit:
            raise HttpProblem(413, "too_many", f"{len(records)} applications exceed serving.max_batch = {limit}")
        if not server.decisions.ready:  # refused before scoring: nothing could be recorded
            failure = server.decisions.failure
            raise HttpProblem(503, "decision_store_unavailable", f"decisions cannot be recorded: {failure}")
        try:
            if champion.path == "compiled" and isinstance(records, list) and len(records) <= INLINE_ROWS:
                outcomes, to_record = server.decide(records, user.name)
            else:
                outcomes, to_record = await asyncio.to_thread(server.decide, records, user.name)
        except InputError as error:
            raise invalid(error) from None
        except OnlineFeaturesUnavailable as error:  # nothing scored, nothing recorded
            raise HttpProblem(503, "online_features_unavailable", str(error)) from None
        try:
            await server.decisions.append(to_record)
        except DecisionStoreUnavailable as error:  # not recorded: no decision may be given
            raise HttpProblem(503, "decision_store_unavailable", str(error)) from None
        for record in to_record:
            metrics.count_decision(record["model"], record["version"], record["route"], record["decision"])
        if server.setting.mode == "canary":
            if await asyncio.to_thread(server.judge_canary):
                metrics.ROLLBACKS.inc()
        return [o.response() for o in outcomes]

    # --- the scoring endpoints ----------------------------------------------------------------------------

    async def score(self, server: ModelServer, user: User, document: Any) -> Answer:
        """Native scoring."""
        answers = await self.decide(server, protocols.native_records(document), user)
        return Answer(200, {"model": server.model, "decisions": answers})

    async def invocations(self, server: ModelServer, user: User, document: Any) -> Answer:
        """MLflow-compatible scoring."""
        answers = await self.decide(server, protocols.mlflow_records(document), user)
        return Answer(
            200,
            protocols.mlflow_response([a["score"] for a in answers]),
            {"X-Decision-Ids": ",".join(a["decision_id"] for a in answers)},
        )

    async def infer(self, server: ModelServer, user: User, document: Any) -> Answer:
        """Open Inference Protocol inference."""
        answers = await self.decide(server, protocols.oip_records(document), user)
        version = answers[0]["version"] if answers else server.champion.version
        request_id = document.get("id") if isinstance(document, dict) else None
        return Answer(200, protocols.oip_response(server.model, version, request_id, answers))

    async def handle(self, kind: str, model: str | None, authorization: str | None, body: bytes) -> Answer:
        """Answer one scoring POST (``kind``: score, invocations or infer); every refusal becomes its answer."""
        started = time.perf_counter()
        try:
            user = self.authenticate(authorization, "client")
            server = self.server(model)
            document = self.parse(body)
            answer = await getattr(self, kind)(server, user, document)
        except HttpProblem as problem:
            answer = problem.answer
        except InputError as error:  # a protocol's shape check, before any scoring
            answer = invalid(error).answer
        metrics.count_request(kind, answer.status, time.perf_counter() - started)
        return answer
