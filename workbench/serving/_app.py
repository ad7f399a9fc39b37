"""The scoring server's HTTP surface (FastAPI): native scoring, MLflow ``/invocations``, Open Inference Protocol.

Bodies are read and parsed by hand (size limit, then JSON) so that every bad request gets the right status
with the field named: 413 for an oversized body, 400 for malformed JSON, 422 for a contract breach, 401/403
for a missing or insufficient token. Each answer is sent only after its decision records are committed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from workbench.governance import AuditTrail
from workbench.governance._users import User
from workbench.registry import configure
from workbench.serving import _metrics as metrics
from workbench.serving import _protocols as protocols
from workbench.serving._auth import TokenIndex
from workbench.serving._decision_log import DecisionLog
from workbench.serving._inputs import InputError
from workbench.serving._server import ModelServer

log = logging.getLogger("workbench.serving")

bearer = HTTPBearer(auto_error=False, description="a token from `workbench users token NAME`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
INLINE_ROWS = 16  # compiled scoring of this many rows runs on the event loop; more goes to a thread


class HttpProblem(Exception):
    """An answer other than 200, with a JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json", headers=headers)


def _error(status: int, error: str, message: str, **extra: Any) -> HttpProblem:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HttpProblem(status, {"error": error, "message": message, **extra}, headers)


def _invalid(error: InputError) -> HttpProblem:
    return _error(
        422,
        "invalid_input",
        "the request breaks the model's input contract",
        problems=[p.as_dict() for p in error.problems],
    )


def _application_schema(server: ModelServer) -> dict[str, Any]:
    return server.champion.schema.json_schema() if server.champion else {"type": "object"}


def _body_doc(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


_ERRORS = {
    "400": {"description": "malformed JSON"},
    "401": {"description": "no or unknown bearer token"},
    "403": {"description": "the token's user lacks the role"},
    "413": {"description": "body larger than serving.max_body_bytes"},
    "422": {"description": "a field is missing, extra, mistyped, out of range or an unknown category"},
}


def create_app(server: ModelServer, tokens: TokenIndex | None = None, *, start: bool = True) -> FastAPI:
    """The ASGI app serving one model; ``start`` loads the deployments when the app starts."""
    tokens = tokens or TokenIndex()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start:
            await asyncio.to_thread(server.start)
        if server.champion:
            metrics.CHAMPION.set(server.champion.version)
        yield
        server.stop()
        await asyncio.to_thread(server.decisions.close)

    app = FastAPI(
        title="MRM Workbench scoring server",
        version="1",
        description=(
            "Scores applications with the approved @champion, records every decision durably with its reason "
            "codes before answering, and rolls out a @challenger in shadow or canary."
        ),
        lifespan=lifespan,
    )

    @app.exception_handler(HttpProblem)
    async def _problem(_: Request, problem: HttpProblem) -> Response:
        return _json(problem.body, problem.status, problem.headers)

    def caller(credentials: HTTPAuthorizationCredentials | None, *roles: str) -> User:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise _error(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
        user = tokens.user(credentials.credentials)
        if user is None:
            raise _error(401, "unauthenticated", "unknown or revoked token")
        if not any(user.has(r) for r in roles):
            raise _error(403, "forbidden", f"{user.name} does not hold the {' or '.join(roles)} role")
        return user

    async def read_json(request: Request) -> Any:
        limit = (server.champion.spec.serving.max_body_bytes) if server.champion else 1_048_576
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _error(413, "too_large", f"body of {declared} bytes exceeds the limit of {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _error(413, "too_large", f"body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        try:
            return orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError as error:
            raise _error(400, "malformed_json", f"the body is not valid JSON: {error}") from None

    async def decide(records: Any, user: User) -> list[dict[str, Any]]:
        champion = server.champion
        limit = champion.spec.serving.max_batch
        if isinstance(records, list) and len(records) > limit:
            raise _error(413, "too_many", f"{len(records)} applications exceed serving.max_batch = {limit}")
        try:
            if champion.path == "compiled" and isinstance(records, list) and len(records) <= INLINE_ROWS:
                outcomes, to_record = server.decide(records, user.name)
            else:
                outcomes, to_record = await asyncio.to_thread(server.decide, records, user.name)
        except InputError as error:
            raise _invalid(error) from None
        await server.decisions.append(to_record)
        for record in to_record:
            metrics.DECISIONS.labels(str(record["version"]), record["route"], record["decision"]).inc()
        if server.setting.mode == "canary":
            reason = await asyncio.to_thread(server.judge_canary)
            if reason:
                metrics.ROLLBACKS.inc()
        return [o.response() for o in outcomes]

    def timed(endpoint: str) -> Callable:
        def wrap(handler: Callable) -> Callable:
            @functools.wraps(handler)  # FastAPI reads the handler's parameters through __wrapped__
            async def run(*args: Any, **kwargs: Any) -> Response:
                started = time.perf_counter()
                status = 500
                try:
                    response = await handler(*args, **kwargs)
                    status = response.status_code
                    return response
                except HttpProblem as problem:
                    status = problem.status
                    raise
                except InputError as error:  # a protocol's shape check, before any scoring
                    status = 422
                    raise _invalid(error) from None
                finally:
                    metrics.REQUESTS.labels(endpoint, str(status)).inc()
                    metrics.LATENCY.labels(endpoint).observe(time.perf_counter() - started)

            return run

        return wrap

    single = {"type": "object", "required": ["applications"], "properties": {"applications": {"type": "array"}}}
    mlflow_schema = {
        "type": "object",
        "description": "one of dataframe_split, dataframe_records, instances, inputs (MLflow's JSON formats)",
        "properties": {
            "dataframe_split": {
                "type": "object",
                "properties": {"columns": {"type": "array", "items": {"type": "string"}}, "data": {"type": "array"}},
            },
            "dataframe_records": {"type": "array", "items": {"type": "object"}},
            "instances": {"type": "array"},
            "inputs": {"oneOf": [{"type": "array"}, {"type": "object"}]},
        },
    }
    oip_schema = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "inputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "shape", "datatype", "data"],
                    "properties": {
                        "name": {"type": "string"},
                        "shape": {"type": "array", "items": {"type": "integer"}},
                        "datatype": {"type": "string"},
                        "data": {"type": "array"},
                    },
                },
            },
        },
    }

    @app.post(
        "/score",
        tags=["scoring"],
        responses=_ERRORS,
        openapi_extra=_body_doc(single, "applications: a list of application objects, every feature as a field"),
    )
    @timed("score")
    async def score(request: Request, credentials: Credentials):
        """Score applications: per application a decision id, score, decision and the top reason codes."""
        user = caller(credentials, "client")
        body = await read_json(request)
        answers = await decide(protocols.native_records(body), user)
        return _json({"model": server.model, "decisions": answers})

    @app.post(
        "/invocations",
        tags=["mlflow"],
        responses=_ERRORS,
        openapi_extra=_body_doc(mlflow_schema, "MLflow scoring-server JSON"),
    )
    @timed("invocations")
    async def invocations(request: Request, credentials: Credentials):
        """MLflow-compatible scoring: the same predictions as ``mlflow models serve`` on the same version."""
        user = caller(credentials, "client")
        body = await read_json(request)
        answers = await decide(protocols.mlflow_records(body), user)
        return _json(
            protocols.mlflow_response([a["score"] for a in answers]),
            headers={"X-Decision-Ids": ",".join(a["decision_id"] for a in answers)},
        )

    @app.post(
        "/v2/models/{model_name}/infer",
        tags=["open inference protocol"],
        responses={**_ERRORS, "404": {"description": "no such model"}},
        openapi_extra=_body_doc(oip_schema, "one 1-D tensor per feature column"),
    )
    @timed("v2_infer")
    async def v2_infer(model_name: str, request: Request, credentials: Credentials):
        """Open Inference Protocol inference."""
        user = caller(credentials, "client")
        if model_name != server.model:
            raise _error(404, "unknown_model", f"this server serves {server.model!r}, not {model_name!r}")
        body = await read_json(request)
        answers = await decide(protocols.oip_records(body), user)
        version = answers[0]["version"] if answers else server.champion.version
        return _json(protocols.oip_response(server.model, version, body.get("id"), answers))

    @app.get("/decisions/{decision_id}", tags=["decisions"], responses={404: {"description": "no such decision"}})
    async def decision(decision_id: str, credentials: Credentials):
        """A recorded decision: the client that made it, or an admin, may read it."""
        user = caller(credentials, "client", "admin")
        record = await asyncio.to_thread(server.decisions.get, decision_id)
        if record is None or (not user.has("admin") and record["client"] != user.name):
            raise _error(404, "unknown_decision", f"no decision {decision_id!r} recorded for {user.name}")
        return _json(record)

    @app.get("/health", tags=["operations"])
    async def health():
        """What is served, on which scoring path, and the rollout state (no token needed)."""
        return _json(server.health())

    @app.get("/metrics", tags=["operations"], responses={401: {}, 403: {}})
    async def prometheus(credentials: Credentials):
        """Prometheus exposition (admins only)."""
        caller(credentials, "admin")
        payload, content_type = metrics.render()
        return Response(payload, media_type=content_type)

    @app.get("/v2", tags=["open inference protocol"])
    async def v2_server():
        """Server metadata."""
        return _json({"name": "mrm-workbench", "version": "1", "extensions": []})

    @app.get("/v2/health/live", tags=["open inference protocol"])
    async def v2_live():
        """Liveness."""
        return _json({"live": True})

    @app.get("/v2/health/ready", tags=["open inference protocol"])
    async def v2_ready():
        """Readiness: a champion is loaded."""
        ready = server.champion is not None
        return _json({"ready": ready}, 200 if ready else 503)

    @app.get("/v2/models/{model_name}", tags=["open inference protocol"], responses={404: {}})
    async def v2_metadata(model_name: str):
        """Model metadata: the input tensors (one per feature) and the outputs."""
        if model_name != server.model or server.champion is None:
            raise _error(404, "unknown_model", f"this server serves {server.model!r}, not {model_name!r}")
        schema = server.champion.schema
        return _json(
            {
                "name": server.model,
                "versions": [str(server.champion.version)],
                "platform": "sklearn",
                "inputs": [
                    {"name": n, "datatype": "FP64" if n in schema.numeric else "BYTES", "shape": [-1]}
                    for n in schema.names
                ],
                "outputs": [
                    {"name": "score", "datatype": "FP64", "shape": [-1]},
                    {"name": "decision", "datatype": "BYTES", "shape": [-1]},
                    {"name": "decision_id", "datatype": "BYTES", "shape": [-1]},
                ],
            }
        )

    @app.get("/v2/models/{model_name}/ready", tags=["open inference protocol"], responses={404: {}})
    async def v2_model_ready(model_name: str):
        """Model readiness."""
        if model_name != server.model:
            raise _error(404, "unknown_model", f"this server serves {server.model!r}, not {model_name!r}")
        return _json({"name": model_name, "ready": server.champion is not None})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            application = _application_schema(server)
            score_body = document["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
            score_body["schema"] = {
                "type": "object",
                "required": ["applications"],
                "additionalProperties": False,
                "properties": {"applications": {"type": "array", "minItems": 1, "items": application}},
            }
            records = document["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]
            records["schema"]["properties"]["dataframe_records"]["items"] = application
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` worker processes, configured by ``workbench serve``."""
    model = os.environ["WORKBENCH_SERVE_MODEL"]
    refresh = float(os.environ.get("WORKBENCH_SERVE_REFRESH", "2"))
    compile_path = os.environ.get("WORKBENCH_SERVE_GENERIC", "") != "1"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    server = ModelServer(
        model, configure(), DecisionLog(), AuditTrail(), refresh_seconds=refresh, compile_path=compile_path
    )
    return create_app(server)
