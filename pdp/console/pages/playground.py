"""Playground: edit a policy and an input, evaluate them in the engine's child process and
see the value, the decision and its reasons; the served bundle is never touched."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import yaml
from fastapi import Form
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from pdp.console.registry import Page
from pdp.console.visit import Reading, Writing
from pdp.errors import InvalidRequest
from pdp.playground import PlaygroundRequest, evaluate
from pdp.policy import SMOKE_INPUT
from pdp.services import Services

PAGE = Page("Playground", "/console/playground", 50)
router = PAGE.router()
NEW_MODULE = "authz/decision.rego"
MAX_TEXT = 1 << 20


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


def _form(services: Services) -> dict[str, Any]:
    """The active bundle's modules and data, and the PDP's smoke input, to start from."""
    active = services.policy.active
    modules = dict(active.compiled.source.modules) if active else {NEW_MODULE: ""}
    return {
        "modules": list(modules.items()),
        "data": _pretty(active.data if active else {}),
        "input": _pretty(SMOKE_INPUT),
        "case": "",
        "entrypoint": "data." + services.policy.decision_entrypoint.replace("/", "."),
        "revision": active.revision if active else None,
    }


@router.get("")
def playground(visit: Reading) -> Response:
    return visit.render_form("pages/playground.html", None, form=_form(visit.services))


def _json_object(text: str, field: str, errors: dict[str, str]) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        errors[field] = f"not valid JSON: {exc}"
        return {}
    if not isinstance(value, dict):
        errors[field] = "must be a JSON object"
        return {}
    return value


def _case(text: str, errors: dict[str, str]) -> Any:
    """A decision-table case as a case file holds one, in YAML (JSON is YAML too)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        errors["case"] = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        return None
    if not isinstance(value, dict):
        errors["case"] = "must be one case: name, request and expect"
    return value


def _field_error(error: dict[str, Any], errors: dict[str, str]) -> None:
    """A validation error under its top-level field, the rest of its place in the message."""
    location = [str(part) for part in error.get("loc", ())] or ["modules"]
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    inner = ".".join(location[1:])
    errors[location[0]] = f"{inner}: {message}" if inner else message


@router.post("")
async def run(
    visit: Writing,
    file: list[str] = Form(default_factory=list),
    text: list[str] = Form(default_factory=list),
    data: str = Form(default="{}", max_length=MAX_TEXT),
    input_text: str = Form(default="{}", alias="input", max_length=MAX_TEXT),
    case_text: str = Form(default="", alias="case", max_length=MAX_TEXT),
    entrypoint: str = Form(default="", max_length=256),
) -> Response:
    """Evaluate what the form holds; field errors are shown next to their fields."""
    services = visit.services
    errors: dict[str, str] = {}
    form = {
        "modules": list(zip(file, text, strict=False)),
        "data": data,
        "input": input_text,
        "case": case_text,
        "entrypoint": entrypoint,
        "revision": services.policy.revision,
    }
    body = {
        "modules": {name.strip(): source for name, source in form["modules"] if name.strip()},
        "data": _json_object(data, "data", errors),
        "entrypoint": entrypoint.strip() or None,
    }
    if case_text.strip():
        body["case"] = _case(case_text, errors)
    else:
        body["input"] = _json_object(input_text, "input", errors)
    result = None
    if not errors:
        try:
            parsed = PlaygroundRequest.model_validate(body)
        except ValidationError as exc:
            _field_error(exc.errors()[0], errors)
        else:
            try:
                result = await run_in_threadpool(
                    partial(
                        evaluate,
                        parsed,
                        decision_entrypoint=services.policy.decision_entrypoint,
                        decisions=services.decisions,
                    )
                )
            except InvalidRequest as exc:
                errors[(exc.field or "modules").split(".")[0]] = exc.message
    return visit.render_form(
        "pages/playground.html",
        errors,
        form=form,
        result=result.to_json() if result else None,
    )
