"""Request and response shapes of the three scoring protocols, all reduced to a list of application records.

* native: ``{"applications": [{field: value, ...}, ...]}``;
* MLflow's ``/invocations`` JSON: ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``
  (records or a column mapping), answered as ``{"predictions": [[p(not adverse), p(adverse)], ...]}`` exactly
  as the registered pyfunc (``predict_proba``) answers under ``mlflow models serve``;
* the Open Inference Protocol (v2): one input tensor per feature column, answered with one output tensor per
  result (score, decision, decision id).
"""

from __future__ import annotations

from typing import Any

from workbench.serving._inputs import InputError, InputProblem

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def _problem(field: str, message: str) -> InputError:
    return InputError([InputProblem(field, message)])


def native_records(body: Any) -> Any:
    """The applications of a native request."""
    if not isinstance(body, dict):
        raise _problem("body", f"must be an object with 'applications', got {type(body).__name__}")
    extra = sorted(set(body) - {"applications"})
    if extra:
        raise _problem(extra[0], "is not a field of a scoring request (send 'applications')")
    if "applications" not in body:
        raise _problem("applications", "is missing")
    return body["applications"]


def _columns_to_records(columns: Any, where: str) -> list[dict[str, Any]]:
    if not all(isinstance(v, list) for v in columns.values()):
        raise _problem(where, "a column mapping needs a list of values per column")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise _problem(where, f"columns have different lengths: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]


def mlflow_records(body: Any) -> Any:
    """The applications of an MLflow ``/invocations`` JSON request, in any of its four formats."""
    if not isinstance(body, dict):
        raise _problem("body", f"must be a JSON object with one of {', '.join(MLFLOW_FORMATS)}")
    present = [key for key in MLFLOW_FORMATS if key in body]
    extra = sorted(set(body) - set(MLFLOW_FORMATS) - {"params"})
    if extra:
        raise _problem(extra[0], f"is not understood; send one of {', '.join(MLFLOW_FORMATS)}")
    if len(present) != 1:
        raise _problem("body", f"needs exactly one of {', '.join(MLFLOW_FORMATS)}, got {present or 'none'}")
    key = present[0]
    payload = body[key]
    if key == "dataframe_split":
        if not isinstance(payload, dict) or not isinstance(payload.get("columns"), list):
            raise _problem("dataframe_split.columns", "must be a list of column names")
        unknown = sorted(set(payload) - {"columns", "data", "index"})
        if unknown:
            raise _problem(f"dataframe_split.{unknown[0]}", "is not understood; send columns, data (and index)")
        if not isinstance(payload.get("index", []), list):
            raise _problem("dataframe_split.index", "must be a list (row labels; not used)")
        data = payload.get("data")
        if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
            raise _problem("dataframe_split.data", "must be a list of rows (lists)")
        columns = payload["columns"]
        for i, row in enumerate(data):
            if len(row) != len(columns):
                raise _problem(f"dataframe_split.data[{i}]", f"has {len(row)} values for {len(columns)} columns")
        if not all(isinstance(c, str) for c in columns):
            raise _problem("dataframe_split.columns", "column names must be strings")
        return [dict(zip(columns, row, strict=True)) for row in data]
    if isinstance(payload, dict):  # instances / inputs as a column mapping
        return _columns_to_records(payload, key)
    return payload


def mlflow_response(scores: list[float]) -> dict[str, Any]:
    """``predict_proba`` output: probability of the favourable class, then of the adverse class."""
    return {"predictions": [[1.0 - s, s] for s in scores]}


_OIP_TYPES = {"BYTES", "FP64", "FP32", "INT64", "INT32", "INT16", "INT8", "UINT8", "BOOL"}


def oip_records(body: Any) -> Any:
    """The applications of an Open Inference Protocol request: one 1-D tensor per feature column."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise _problem("inputs", "must be a list of tensors, one per feature column")
    columns: dict[str, list[Any]] = {}
    for i, tensor in enumerate(body["inputs"]):
        at = f"inputs[{i}]"
        if not isinstance(tensor, dict):
            raise _problem(at, "must be a tensor object with name, shape, datatype and data")
        for key in ("name", "shape", "datatype", "data"):
            if key not in tensor:
                raise _problem(f"{at}.{key}", "is missing")
        name, shape, datatype, data = tensor["name"], tensor["shape"], tensor["datatype"], tensor["data"]
        if not isinstance(name, str):
            raise _problem(f"{at}.name", "must be a string")
        if datatype not in _OIP_TYPES:
            raise _problem(f"{at}.datatype", f"{datatype!r} is not an Open Inference Protocol datatype")
        if not isinstance(data, list):
            raise _problem(f"{at}.data", "must be a list")
        if not isinstance(shape, list) or not shape or shape[0] != len(data) or any(s != 1 for s in shape[1:]):
            raise _problem(f"{at}.shape", f"must be [{len(data)}] (one value per application), got {shape}")
        if name in columns:
            raise _problem(f"{at}.name", f"column {name!r} is sent twice")
        columns[name] = data
    return _columns_to_records(columns, "inputs")


def oip_response(model: str, version: int, request_id: Any, answers: list[dict[str, Any]]) -> dict[str, Any]:
    """Outputs: score (FP64), decision (BYTES) and decision_id (BYTES), one value per application."""
    n = len(answers)
    response: dict[str, Any] = {
        "model_name": model,
        "model_version": str(version),
        "outputs": [
            {"name": "score", "shape": [n], "datatype": "FP64", "data": [a["score"] for a in answers]},
            {"name": "decision", "shape": [n], "datatype": "BYTES", "data": [a["decision"] for a in answers]},
            {"name": "decision_id", "shape": [n], "datatype": "BYTES", "data": [a["decision_id"] for a in answers]},
        ],
    }
    if isinstance(request_id, str):
        response["id"] = request_id
    return response
