"""The scoring endpoints' behaviour, free of any web framework: bytes and headers in, status and JSON out.

Both the FastAPI routes (which also give the OpenAPI document) and the raw ASGI scoring lane call these, so
the two can never answer differently. Every bad request gets its status with the field named: 401/403 for a
missing or insufficient token, 413 for an oversized body or batch, 400 for malformed JSON, 422 for a contract
breach. Each answer is released only after its decision records are committed.
"""

from __future__ import annotations

import asyncio
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
from workbench.serving._inputs import InputError
from workbench.serving._server import ModelServer

log = logging.getLogger("workbench.serving")

INLINE_ROWS = 16  # compiled scoring of this many rows runs on the event loop; more goes to a thread
DEFAULT_BODY_LIMIT = 1_048_576
SCORING_PATHS = ("/score", "/invocations")
OIP_PREFIX, OIP_SUFFIX = "/v2/models/", "/infer"


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
    """The 422 for a broken input contract, listing every problem."""
    return HttpProblem(
        422,
        "invalid_input",
        "the request breaks the model's input contract",
        problems=[p.as_dict() for p in error.problems],
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class ScoringEndpoints:
    """Authentication, body limits, protocol parsing, scoring and durable recording for one model server."""

    def __init__(self, server: ModelServer, tokens: TokenIndex) -> None:
        self.server = server
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

    @property
    def body_limit(self) -> int:
        """Largest accepted body, from the champion's spec."""
        champion = self.server.champion
        return champion.spec.serving.max_body_bytes if champion else DEFAULT_BODY_LIMIT

    def check_declared_length(self, content_length: str | None) -> None:
        """Refuse before reading when the declared body is too large."""
        limit = self.body_limit
        if content_length is not None and content_length.isdigit() and int(content_length) > limit:
            raise HttpProblem(413, "too_large", f"body of {content_length} bytes exceeds the limit of {limit} bytes")

    def too_large(self) -> HttpProblem:
        """The 413 for a body that grew past the limit while being read."""
        return HttpProblem(413, "too_large", f"body exceeds the limit of {self.body_limit} bytes")

    @staticmethod
    def parse(body: bytes) -> Any:
        """The JSON document, or 400."""
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise HttpProblem(400, "malformed_json", f"the body is not valid JSON: {error}") from None

    async def decide(self, records: Any, user: User) -> list[dict[str, Any]]:
        """Score, record durably, then judge the canary; returns the per-application answers."""
        server = self.server
        champion = server.champion
        limit = champion.spec.serving.max_batch
        if isinstance(records, list) and len(records) > limit:
            raise HttpProblem(413, "too_many", f"{len(records)} applications exceed serving.max_batch = {limit}")
        try:
            if champion.path == "compiled" and isinstance(records, list) and len(records) <= INLINE_ROWS:
                outcomes, to_record = server.decide(records, user.name)
            else:
                outcomes, to_record = await asyncio.to_thread(server.decide, records, user.name)
        except InputError as error:
            raise invalid(error) from None
        try:
            await server.decisions.append(to_record)
        except DecisionStoreUnavailable as error:  # not recorded: no decision may be given
            raise HttpProblem(503, "decision_store_unavailable", str(error)) from None
        for record in to_record:
            metrics.count_decision(record["version"], record["route"], record["decision"])
        if server.setting.mode == "canary":
            if await asyncio.to_thread(server.judge_canary):
                metrics.ROLLBACKS.inc()
        return [o.response() for o in outcomes]

    # --- the scoring endpoints ----------------------------------------------------------------------------

    async def score(self, authorization: str | None, body: bytes) -> Answer:
        """Native scoring."""
        user = self.authenticate(authorization, "client")
        answers = await self.decide(protocols.native_records(self.parse(body)), user)
        return Answer(200, {"model": self.server.model, "decisions": answers})

    async def invocations(self, authorization: str | None, body: bytes) -> Answer:
        """MLflow-compatible scoring."""
        user = self.authenticate(authorization, "client")
        answers = await self.decide(protocols.mlflow_records(self.parse(body)), user)
        return Answer(
            200,
            protocols.mlflow_response([a["score"] for a in answers]),
            {"X-Decision-Ids": ",".join(a["decision_id"] for a in answers)},
        )

    async def infer(self, model_name: str, authorization: str | None, body: bytes) -> Answer:
        """Open Inference Protocol inference."""
        user = self.authenticate(authorization, "client")
        if model_name != self.server.model:
            raise HttpProblem(404, "unknown_model", f"this server serves {self.server.model!r}, not {model_name!r}")
        document = self.parse(body)
        answers = await self.decide(protocols.oip_records(document), user)
        version = answers[0]["version"] if answers else self.server.champion.version
        return Answer(200, protocols.oip_response(self.server.model, version, document.get("id"), answers))

    async def handle(self, path: str, authorization: str | None, body: bytes) -> Answer:
        """Route a scoring POST and turn every refusal into its answer; records the request's metrics."""
        started = time.perf_counter()
        endpoint = path.strip("/").replace("/", "_") if path in SCORING_PATHS else "v2_infer"
        try:
            if path == "/score":
                answer = await self.score(authorization, body)
            elif path == "/invocations":
                answer = await self.invocations(authorization, body)
            else:
                answer = await self.infer(path[len(OIP_PREFIX) : -len(OIP_SUFFIX)], authorization, body)
        except HttpProblem as problem:
            answer = problem.answer
        except InputError as error:  # a protocol's shape check, before any scoring
            answer = invalid(error).answer
        metrics.count_request(endpoint, answer.status, time.perf_counter() - started)
        return answer


def is_scoring_path(path: str) -> bool:
    """True for the three scoring endpoints' paths."""
    if path in SCORING_PATHS:
        return True
    return path.startswith(OIP_PREFIX) and path.endswith(OIP_SUFFIX) and path.count("/") == 4
