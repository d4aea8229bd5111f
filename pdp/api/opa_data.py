"""OPA's REST Data API: `GET|POST /v1/data[/{path}]`, so OPA SDKs and middleware work unchanged.

Errors, authentication failures included, leave in OPA's shape
(`{"code": "invalid_parameter", "message": ...}`), which is what OPA clients parse; a
malformed request's 400 also carries the PDP's `error` and `field`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pdp import __version__
from pdp.api.deps import require_decide, services_of
from pdp.api.json_body import parse_json
from pdp.data_api import (
    DataApiError,
    DataApiService,
    DataResult,
    invalid_parameter,
    split_path,
)
from pdp.engine import UNDEFINED
from pdp.errors import InvalidRequest, PDPError, Unauthenticated

router = APIRouter(tags=["opa-data"])

_TRUE = frozenset({"", "true", "1"})
# OPA's `explain` modes; `notes` lists `trace()` notes, which regopy has none of.
_EXPLAIN = frozenset({"notes", "off"})


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    return value is not None and value.lower() in _TRUE


def _json_response(body: dict[str, Any], status: int, pretty: bool) -> Response:
    text = json.dumps(body, indent=2 if pretty else None, ensure_ascii=False)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(text + "\n", status_code=status, media_type="application/json", headers=headers)


def _service(request: Request) -> DataApiService:
    services = services_of(request)
    return DataApiService(
        policy=services.policy,
        decisions=services.decisions,
        decision_log=services.decision_log,
        metrics=services.metrics,
    )


async def _read_input(request: Request) -> tuple[Any, bool]:
    """(input, whether the request carried one): `input` of a POST body or the GET query,
    parsed as strictly as every other body (`pdp.api.json_body`)."""
    max_depth = services_of(request).settings.max_json_depth
    if request.method == "GET":
        raw = request.query_params.get("input")
        if raw is None:
            return None, False
        return _parse(raw, max_depth, "input"), True
    body = await request.body()
    if not body.strip():
        return None, False
    document = _parse(body, max_depth, "body")
    if not isinstance(document, dict):
        raise invalid_parameter("body must be a JSON object with an 'input' member", "body")
    return document.get("input"), "input" in document


def _parse(raw: bytes | str, max_depth: int, field: str) -> Any:
    """The strict parser's refusal, in the Data API's shape."""
    try:
        return parse_json(raw, max_depth=max_depth, field=field)
    except InvalidRequest as exc:
        raise invalid_parameter(exc.message, exc.field or field) from None


def _response_body(request: Request, answer: DataResult, has_input: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"decision_id": answer.decision_id}
    if answer.result is not UNDEFINED:
        body["result"] = answer.result
    if _flag(request, "metrics"):
        body["metrics"] = {"timer_rego_query_eval_ns": answer.eval_ns}
    if _flag(request, "provenance"):
        body["provenance"] = {
            "version": __version__,
            "bundles": {"pdp": {"revision": answer.revision or ""}},
        }
    if request.query_params.get("explain") == "notes":
        body["explanation"] = []
    if answer.unresolved is not None:
        body["warning"] = {
            "code": "subject_unresolved",
            "message": f"the input's subject was not evaluated: {', '.join(answer.unresolved)}",
        }
    elif request.method == "POST" and not has_input:
        body["warning"] = {
            "code": "api_usage_warning",
            "message": "'input' key missing from the request",
        }
    return body


async def _handle(request: Request, path: str) -> Response:
    pretty = _flag(request, "pretty")
    try:
        explain = request.query_params.get("explain")
        if explain is not None and explain not in _EXPLAIN:
            raise invalid_parameter(
                f"explain={explain} is not supported here; use notes", "explain"
            )
        try:
            caller = await require_decide(request)
        except Unauthenticated as exc:
            raise DataApiError(401, "unauthorized", exc.message) from None
        except PDPError as exc:
            raise DataApiError(exc.status, "unauthorized", exc.message) from None
        input_doc, has_input = await _read_input(request)
        answer = await _service(request).query(
            split_path(path), input_doc, caller, has_input=has_input
        )
    except DataApiError as exc:
        return _json_response(exc.to_json(), exc.status, pretty)
    return _json_response(_response_body(request, answer, has_input), 200, pretty)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid_parameter"},
    401: {"description": "unauthorized"},
    500: {"description": "internal_error (evaluation error or timeout)"},
}


@router.post("/v1/data", responses=_RESPONSES)
@router.get("/v1/data", responses=_RESPONSES)
async def whole_document(request: Request) -> Response:
    """The whole data document: base data and every defined rule."""
    return await _handle(request, "")


@router.post("/v1/data/{path:path}", responses=_RESPONSES)
@router.get("/v1/data/{path:path}", responses=_RESPONSES)
async def data_document(request: Request, path: str) -> Response:
    """`data.<path>` for `{"input": ...}` (POST) or `?input=<JSON>` (GET)."""
    return await _handle(request, path)
