"""The scoring server's HTTP surface: FastAPI routes, run by uvicorn (several workers through uvicorn's own
``workers``), the OpenAPI document as FastAPI writes it from the routes.

Routes per model: ``POST /models/{name}/score`` (native), ``/models/{name}/invocations`` (MLflow),
``/v2/models/{name}/infer`` (Open Inference Protocol); ``/score`` and ``/invocations`` answer for the model
when exactly one is served. ``/health`` and ``/v2/health/ready`` say not ready (503) while decisions cannot be
recorded or no model is loaded, so a load balancer sends the traffic elsewhere until the store is back.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Request, Security
from fastapi.openapi.utils import get_openapi
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from workbench.governance import AuditTrail
from workbench.registry import configure
from workbench.serving import _prometheus as metrics
from workbench.serving._auth import TokenIndex
from workbench.serving._decision_store import open_decision_store
from workbench.serving._endpoints import Answer, HttpProblem, ScoringEndpoints
from workbench.serving._fleet import Fleet
from workbench.serving._server import ModelServer

log = logging.getLogger("workbench.serving")

#: seconds a client may take to send a request's body once its headers are in (``workbench serve --body-timeout``)
BODY_SECONDS = 10.0


def body_seconds() -> float:
    """``WORKBENCH_SERVE_BODY_SECONDS`` when set by ``workbench serve``, else :data:`BODY_SECONDS`."""
    return float(os.environ.get("WORKBENCH_SERVE_BODY_SECONDS") or BODY_SECONDS)


_bearer = HTTPBearer(auto_error=False, description="a token from `workbench users token NAME`")
#: the bearer credentials of a request, or None (the route answers 401 itself, with its reason)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json", headers=headers)


def _response(answer: Answer) -> Response:
    return _json(answer.body, answer.status, answer.headers)


def _problem(description: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    }
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SCORING_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem("malformed JSON"),
    401: _problem("no or unknown bearer token"),
    403: _problem("the token's user lacks the client role"),
    404: _problem("the model is not served here"),
    408: _problem("the body did not arrive in time"),
    413: _problem("body larger than serving.max_body_bytes, or more applications than serving.max_batch"),
    415: _problem("a content type other than JSON, or a Content-Encoding"),
    422: _problem("a field is missing, extra, mistyped, not finite, out of range or an unknown category"),
    503: _problem("the model cannot be loaded, or decisions cannot be recorded (nothing was decided)"),
}


def _body_doc(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


_NATIVE = {
    "type": "object",
    "required": ["applications"],
    "additionalProperties": False,
    "properties": {"applications": {"type": "array", "items": {"type": "object"}}},
}
_MLFLOW = {
    "description": "one of MLflow's JSON formats: dataframe_split, dataframe_records, instances or inputs",
    "oneOf": [
        {
            "type": "object",
            "required": ["dataframe_split"],
            "properties": {
                "dataframe_split": {
                    "type": "object",
                    "required": ["columns", "data"],
                    "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "data": {"type": "array", "items": {"type": "array"}},
                    },
                }
            },
        },
        {
            "type": "object",
            "required": ["dataframe_records"],
            "properties": {"dataframe_records": {"type": "array", "items": {"type": "object"}}},
        },
        {"type": "object", "required": ["instances"], "properties": {"instances": {"type": ["array", "object"]}}},
        {"type": "object", "required": ["inputs"], "properties": {"inputs": {"type": ["array", "object"]}}},
    ],
}
_OIP = {
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


def create_app(served: Fleet | ModelServer, tokens: TokenIndex | None = None, *, start: bool = True) -> FastAPI:
    """The ASGI app serving a fleet of models (or one model server); ``start`` loads them when the app starts."""
    fleet = served if isinstance(served, Fleet) else Fleet.of(served)
    endpoints = ScoringEndpoints(fleet, tokens or TokenIndex())
    seconds = body_seconds()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start:
            await asyncio.to_thread(fleet.start)
        for name, server in list(fleet.servers.items()):
            metrics.CHAMPION.labels(name).set(server.champion.version)
        yield
        if start:  # what the app started it stops; a caller that started the servers closes them
            fleet.stop()
            fleet.decisions.close()

    app = FastAPI(
        title="MRM Workbench scoring server",
        version="1",
        description=(
            "Scores applications with each model's approved @champion, records every decision durably with its "
            "reason codes before answering, and rolls out a @challenger in shadow or canary. Send "
            "`Authorization: Bearer <token>` (from `workbench users token NAME`) and `Content-Type: "
            "application/json`."
        ),
        lifespan=lifespan,
    )

    @app.exception_handler(HttpProblem)
    async def _refused(_: Request, problem: HttpProblem) -> Response:
        return _response(problem.answer)

    async def read_body(request: Request, model: str | None) -> bytes:
        """The body, refused when it is not plain JSON, too large, or too slow to arrive."""
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if kind != "application/json" and not (kind.startswith("application/") and kind.endswith("+json")):
            raise HttpProblem(415, "unsupported_media_type", f"send Content-Type: application/json, not {kind[:80]!r}")
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise HttpProblem(415, "unsupported_encoding", f"send the body uncompressed, not {encoding[:80]!r}")
        limit = endpoints.body_limit(model)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HttpProblem(413, "too_large", f"body of {declared} bytes exceeds the limit of {limit} bytes")

        async def collect() -> bytes:
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HttpProblem(413, "too_large", f"body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)

        try:
            return await asyncio.wait_for(collect(), seconds)
        except TimeoutError:
            raise HttpProblem(408, "body_timeout", f"the body did not arrive within {seconds:g} s") from None

    async def scoring(kind: str, model: str | None, request: Request, credentials: Any) -> Response:
        authorization = f"Bearer {credentials.credentials}" if credentials else None
        try:
            body = await read_body(request, model)
        except HttpProblem as problem:
            return _response(problem.answer)
        return _response(await endpoints.handle(kind, model, authorization, body))

    def scoring_route(path: str, kind: str, tag: str, body: dict[str, Any], summary: str) -> None:
        doc = _body_doc(body, summary)
        if "{" in path:

            async def per_model(model_name: str, request: Request, credentials: Credentials):
                return await scoring(kind, model_name, request, credentials)

            per_model.__doc__ = summary
            app.post(path, tags=[tag], responses=_SCORING_ERRORS, openapi_extra=doc, name=f"{kind}_model")(per_model)
        else:

            async def only_model(request: Request, credentials: Credentials):
                return await scoring(kind, None, request, credentials)

            only_model.__doc__ = summary + " (the only model served)"
            app.post(path, tags=[tag], responses=_SCORING_ERRORS, openapi_extra=doc, name=kind)(only_model)

    native = "Score applications: per application a decision id, score, decision and the top reason codes."
    mlflow = "MLflow-compatible scoring: the same predictions as `mlflow models serve` on the same version."
    scoring_route("/models/{model_name}/score", "score", "scoring", _NATIVE, native)
    scoring_route("/models/{model_name}/invocations", "invocations", "mlflow", _MLFLOW, mlflow)
    scoring_route("/v2/models/{model_name}/infer", "infer", "open inference protocol", _OIP, "Inference (v2).")
    scoring_route("/score", "score", "scoring", _NATIVE, native)  # 404 naming the models when several are served
    scoring_route("/invocations", "invocations", "mlflow", _MLFLOW, mlflow)

    @app.get(
        "/decisions/{decision_id}",
        tags=["decisions"],
        responses={
            401: _problem("no or unknown bearer token"),
            403: _problem("neither client nor admin"),
            404: _problem("no such decision for this client"),
            503: _problem("the decision store cannot be read"),
        },
    )
    async def decision(decision_id: str, credentials: Credentials):
        """A recorded decision: the client that made it, or an admin, may read it."""
        authorization = f"Bearer {credentials.credentials}" if credentials else None
        user = endpoints.authenticate(authorization, "client", "admin")
        try:
            record = await asyncio.to_thread(fleet.decisions.get, decision_id)
        except Exception as error:  # the store is down: say so rather than fail
            raise HttpProblem(503, "decision_store_unavailable", f"decisions cannot be read: {error}") from None
        if record is None or (not user.has("admin") and record["client"] != user.name):
            raise HttpProblem(404, "unknown_decision", f"no decision {decision_id[:80]!r} recorded for {user.name}")
        return _json(record)

    async def readiness() -> tuple[bool, dict[str, Any]]:
        store_ready = await asyncio.to_thread(fleet.decisions.check)
        loaded = [n for n, s in list(fleet.servers.items()) if s.champion is not None]
        return store_ready and bool(loaded), {"decision_store": fleet.decisions.describe(), "models": loaded}

    @app.get("/health", tags=["operations"], responses={503: {"description": "not ready: see the reasons"}})
    async def health():
        """Every model served (or why not), the decision store, and readiness (no token needed)."""
        ready, state = await readiness()
        models = fleet.health()
        status = "not ready" if not ready else ("degraded" if fleet.refused else "ok")
        body = {"status": status, "process": os.getpid(), "decision_store": state["decision_store"], "models": models}
        single = fleet.single
        if single and single in fleet.servers:  # one model: its state at the top level too
            body.update({k: v for k, v in models[single].items() if k not in ("status", "process")})
        return _json(body, 200 if ready else 503)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=PlainTextResponse,
        responses={401: _problem("no token"), 403: _problem("not an admin")},
    )
    async def prometheus(credentials: Credentials):
        """Prometheus exposition (admins only)."""
        endpoints.authenticate(f"Bearer {credentials.credentials}" if credentials else None, "admin")
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

    @app.get("/v2/health/ready", tags=["open inference protocol"], responses={503: {"description": "not ready"}})
    async def v2_ready():
        """Readiness: decisions can be recorded and at least one model is loaded."""
        ready, _ = await readiness()
        return _json({"ready": ready}, 200 if ready else 503)

    loaded = endpoints.server  # the loaded model, or the 404 / 503 saying why not

    model_errors = {404: _problem("the model is not served here"), 503: _problem("the model cannot be loaded")}

    @app.get("/v2/models/{model_name}", tags=["open inference protocol"], responses=model_errors)
    async def v2_metadata(model_name: str):
        """Model metadata: the input tensors (one per feature) and the outputs."""
        server = loaded(model_name)
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

    @app.get("/v2/models/{model_name}/ready", tags=["open inference protocol"], responses=model_errors)
    async def v2_model_ready(model_name: str):
        """Model readiness."""
        return _json({"name": model_name, "ready": loaded(model_name).champion is not None})

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with the served model's application schema where one model is served.

        FastAPI's documented extension point (``app.openapi``): the contract is known only once the model is
        loaded, so the scoring bodies of ``/score`` and ``/invocations`` name its fields, types, ranges and
        categories, and a client generated from the document sends what the server accepts.
        """
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            single = fleet.servers.get(fleet.single or "")
            if single is not None and single.champion is not None:
                _contract_bodies(document, single.champion.schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _contract_bodies(document: dict[str, Any], schema: Any) -> None:
    """``/score`` and ``/invocations`` bodies as the one served model's contract."""
    application = schema.json_schema()
    applications = {"type": "array", "minItems": 1, "items": application}
    fields = [application["properties"][name] for name in schema.names]

    def body(path: str, content: dict[str, Any]) -> None:
        document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"] = content

    body("/score", {**_NATIVE, "properties": {"applications": applications}})

    def one(key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": [key], "additionalProperties": False, "properties": {key: value}}

    split = {
        "type": "object",
        "required": ["columns", "data"],
        "additionalProperties": False,
        "properties": {
            "index": {"type": "array"},
            "columns": {"const": schema.names},
            "data": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "array",
                    "prefixItems": fields,
                    "minItems": len(fields),
                    "maxItems": len(fields),
                },
            },
        },
    }
    body(
        "/invocations",
        {
            "description": _MLFLOW["description"] + " (records form for instances and inputs)",
            "oneOf": [
                one("dataframe_split", split),
                one("dataframe_records", applications),
                one("instances", applications),
                one("inputs", applications),
            ],
        },
    )


def app_from_environment() -> FastAPI:
    """The app for uvicorn's worker processes (``--factory``), configured by ``workbench serve``."""
    names = [n for n in os.environ.get("WORKBENCH_SERVE_MODELS", "").split(",") if n]
    refresh = float(os.environ.get("WORKBENCH_SERVE_REFRESH", "2"))
    compile_path = os.environ.get("WORKBENCH_SERVE_GENERIC", "") != "1"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    fleet = Fleet(
        configure(),
        open_decision_store(),
        AuditTrail(),
        names=names or None,
        refresh_seconds=refresh,
        compile_path=compile_path,
    )
    return create_app(fleet)
