"""The scoring server's HTTP surface: FastAPI for every route and the OpenAPI document, and a raw ASGI lane.

The lane answers the three scoring POSTs (native ``/score``, MLflow ``/invocations``, Open Inference Protocol
``/v2/models/{name}/infer``) straight from the ASGI messages and hands everything else to FastAPI. Both call
the same :class:`ScoringEndpoints`, so they answer identically; the lane only skips the framework's routing,
dependency and middleware layers, which cost as much per request as scoring, reasons and the durable record
together (see BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from workbench.governance import AuditTrail
from workbench.registry import configure
from workbench.serving import _prometheus as metrics
from workbench.serving._auth import TokenIndex
from workbench.serving._decision_store import open_decision_store
from workbench.serving._endpoints import Answer, HttpProblem, ScoringEndpoints, is_scoring_path
from workbench.serving._server import ModelServer

log = logging.getLogger("workbench.serving")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json", headers=headers)


def _response(answer: Answer) -> Response:
    return _json(answer.body, answer.status, answer.headers)


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


#: seconds a thread may hold the GIL while another waits (Python's default: 0.005)
DEFAULT_SWITCH_INTERVAL = 0.0005


def switch_interval() -> float:
    """``WORKBENCH_SWITCH_INTERVAL`` (seconds, default 0.0005); a malformed value is refused, naming the variable.

    Read when a worker starts and checked by ``workbench serve`` before any worker does, so a typo stops the
    command with its reason instead of failing every worker.
    """
    text = os.environ.get("WORKBENCH_SWITCH_INTERVAL")
    if text is None:
        return DEFAULT_SWITCH_INTERVAL
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:  # NaN fails too
        raise ValueError(
            f"WORKBENCH_SWITCH_INTERVAL: {text!r} is not a number of seconds above 0 and at most 1 "
            f"(default {DEFAULT_SWITCH_INTERVAL})"
        )
    return value


_ERRORS = {
    "400": {"description": "malformed JSON"},
    "401": {"description": "no or unknown bearer token"},
    "403": {"description": "the token's user lacks the role"},
    "413": {"description": "body larger than serving.max_body_bytes"},
    "422": {"description": "a field is missing, extra, mistyped, out of range or an unknown category"},
}


class ScoringLane:
    """Raw ASGI for the scoring POSTs; every other request, and the lifespan, go to the FastAPI app."""

    def __init__(self, app: FastAPI, endpoints: ScoringEndpoints) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not is_scoring_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        authorization = content_length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length":
                content_length = value.decode("latin-1")
        try:
            self.endpoints.check_declared_length(content_length)
            body = await self._body(receive)
        except HttpProblem as problem:
            answer = problem.answer
        else:
            answer = await self.endpoints.handle(scope["path"], authorization, body)
        payload = answer.encoded()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _body(self, receive: Receive) -> bytes:
        limit, chunks, size = self.endpoints.body_limit, [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise HttpProblem(400, "disconnected", "the client went away before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise self.endpoints.too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def create_app(
    server: ModelServer, tokens: TokenIndex | None = None, *, start: bool = True, lane: bool = True
) -> ScoringLane | FastAPI:
    """The ASGI app serving one model; ``start`` loads the deployments when the app starts.

    With ``lane`` (the default) the scoring POSTs bypass the framework; without it FastAPI answers them too.
    """
    endpoints = ScoringEndpoints(server, tokens or TokenIndex())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start:
            await asyncio.to_thread(server.start)
        if server.champion:
            metrics.CHAMPION.set(server.champion.version)
        if start:  # the loaded models never die: keep them out of every garbage collection (shorter pauses)
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 20)  # a request allocates little that cycles; collect young objects rarely
            # the registry follower's queries hold the GIL in 5 ms slices by default; requests waited behind them
            sys.setswitchinterval(switch_interval())
        yield
        if start:  # what the app started it stops; a caller that started the server closes it
            server.stop()
            server.decisions.close()

    app = FastAPI(
        title="MRM Workbench scoring server",
        version="1",
        description=(
            "Scores applications with the approved @champion, records every decision durably with its reason "
            "codes before answering, and rolls out a @challenger in shadow or canary. Send "
            "`Authorization: Bearer <token>` (from `workbench users token NAME`)."
        ),
        lifespan=lifespan,
    )

    @app.exception_handler(HttpProblem)
    async def _problem(_: Request, problem: HttpProblem) -> Response:
        return _response(problem.answer)

    async def through_framework(request: Request) -> Response:
        try:
            endpoints.check_declared_length(request.headers.get("content-length"))
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > endpoints.body_limit:
                    raise endpoints.too_large()
                chunks.append(chunk)
        except HttpProblem as problem:
            return _response(problem.answer)
        return _response(
            await endpoints.handle(request.url.path, request.headers.get("authorization"), b"".join(chunks))
        )

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
    async def score(request: Request):
        """Score applications: per application a decision id, score, decision and the top reason codes."""
        return await through_framework(request)

    @app.post(
        "/invocations",
        tags=["mlflow"],
        responses=_ERRORS,
        openapi_extra=_body_doc(mlflow_schema, "MLflow scoring-server JSON"),
    )
    async def invocations(request: Request):
        """MLflow-compatible scoring: the same predictions as ``mlflow models serve`` on the same version."""
        return await through_framework(request)

    @app.post(
        "/v2/models/{model_name}/infer",
        tags=["open inference protocol"],
        responses={**_ERRORS, "404": {"description": "no such model"}},
        openapi_extra=_body_doc(oip_schema, "one 1-D tensor per feature column"),
    )
    async def v2_infer(model_name: str, request: Request):
        """Open Inference Protocol inference."""
        return await through_framework(request)

    @app.get("/decisions/{decision_id}", tags=["decisions"], responses={404: {"description": "no such decision"}})
    async def decision(decision_id: str, request: Request):
        """A recorded decision: the client that made it, or an admin, may read it."""
        user = endpoints.authenticate(request.headers.get("authorization"), "client", "admin")
        record = await asyncio.to_thread(server.decisions.get, decision_id)
        if record is None or (not user.has("admin") and record["client"] != user.name):
            raise HttpProblem(404, "unknown_decision", f"no decision {decision_id!r} recorded for {user.name}")
        return _json(record)

    @app.get("/health", tags=["operations"])
    async def health():
        """What is served, on which scoring path, and the rollout state (no token needed)."""
        return _json(server.health())

    @app.get("/metrics", tags=["operations"], responses={401: {}, 403: {}})
    async def prometheus(request: Request):
        """Prometheus exposition (admins only)."""
        endpoints.authenticate(request.headers.get("authorization"), "admin")
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
            raise HttpProblem(404, "unknown_model", f"this server serves {server.model!r}, not {model_name!r}")
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
            raise HttpProblem(404, "unknown_model", f"this server serves {server.model!r}, not {model_name!r}")
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
            document.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "from `workbench users token NAME`"}
            }
            for path, operations in document["paths"].items():
                for operation in operations.values():
                    if (
                        path in ("/score", "/invocations", "/metrics")
                        or path.startswith("/decisions")
                        or (path.endswith("/infer"))
                    ):
                        operation["security"] = [{"bearer": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return ScoringLane(app, endpoints) if lane else app


def app_from_environment() -> ScoringLane | FastAPI:
    """The app for ``uvicorn --factory`` worker processes, configured by ``workbench serve``."""
    model = os.environ["WORKBENCH_SERVE_MODEL"]
    refresh = float(os.environ.get("WORKBENCH_SERVE_REFRESH", "2"))
    compile_path = os.environ.get("WORKBENCH_SERVE_GENERIC", "") != "1"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    server = ModelServer(
        model,
        configure(),
        open_decision_store(),
        AuditTrail(),
        refresh_seconds=refresh,
        compile_path=compile_path,
    )
    return create_app(server)
