"""HTML forms over the admin API's request models: which widget each field gets, the text a
form posts turned back into a request body, and validation errors keyed by field.

The console edits the directory through the very models and store the admin API uses, so a
value either API refuses is refused here too, with the message shown next to its field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from pdp.errors import PDPError

# List fields of names, written as one comma-separated line.
NAME_LISTS = frozenset({"roles", "members"})


@dataclass(frozen=True)
class FormField:
    """One input of a form: `widget` is "text", "choice" (one of `choices`), "list"
    (comma-separated) or "json"."""

    name: str
    widget: str
    required: bool
    value: str = ""
    choices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        suffix = {"list": " (comma-separated)", "json": " (JSON)"}.get(self.widget, "")
        return self.name.replace("_", " ").capitalize() + suffix


def _structure(annotation: Any) -> type | None:
    """`dict` or `list` for a field holding an object or a list (also inside `Optional`,
    `Annotated`), else None: an unset one is shown as an empty one of its own shape."""
    origin = get_origin(annotation) or annotation
    if origin in (dict, list):
        return origin
    for inner in get_args(annotation):
        if found := _structure(inner):
            return found
    return None


def _widget(name: str, annotation: Any) -> str:
    if name in NAME_LISTS:
        return "list"
    return "json" if _structure(annotation) else "text"


def _choices(annotation: Any) -> tuple[str, ...]:
    """The values of a `Literal` field (also inside `Optional`, `Annotated`), else ()."""
    if get_origin(annotation) is Literal:
        return tuple(str(a) for a in get_args(annotation))
    for inner in get_args(annotation):
        if found := _choices(inner):
            return found
    return ()


def shown(widget: str, value: Any, structure: type = dict) -> str:
    """A stored value as its widget shows it; an unset JSON field as an empty `structure`
    (a PATCH model's None default, which posted back would be refused)."""
    if widget == "list":
        return ", ".join(str(v) for v in value or [])
    if widget == "json":
        return json.dumps(value if value is not None else structure(), indent=2, sort_keys=True)
    return "" if value is None else str(value)


def form_fields(
    model: type[BaseModel],
    current: Mapping[str, Any] | None = None,
    *,
    skip: Iterable[str] = (),
    posted: Mapping[str, str] | None = None,
) -> list[FormField]:
    """The inputs for `model`, filled from what was posted, else from `current`."""
    fields = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        choices = _choices(info.annotation)
        widget = "choice" if choices else _widget(name, info.annotation)
        if posted is not None and name in posted:
            value = posted[name]
        else:
            structure = _structure(info.annotation) or dict
            value = shown(widget, current.get(name), structure) if current else ""
        fields.append(FormField(name, widget, info.is_required(), value, choices))
    return fields


def request_body(
    fields: Iterable[FormField], posted: Mapping[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    """The JSON body the posted text stands for; an empty optional field is left unset, a
    JSON field that does not parse is an error of that field."""
    body: dict[str, Any] = {}
    for field in fields:
        text = posted.get(field.name, "").strip()
        if not text and not field.required:
            continue
        if field.widget == "list":
            body[field.name] = [part.strip() for part in text.split(",") if part.strip()]
        elif field.widget == "json":
            try:
                body[field.name] = json.loads(text)
            except ValueError as exc:
                errors[field.name] = f"not valid JSON: {exc}"
        else:
            body[field.name] = text
    return body


def validated(
    model: type[BaseModel], body: dict[str, Any], errors: dict[str, str]
) -> BaseModel | None:
    """`body` as `model`, or None with every field's first error in `errors`."""
    if errors:
        return None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        for error in exc.errors():
            location = [str(part) for part in error.get("loc", ())]
            field = location[0] if location else "body"
            message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
            errors.setdefault(field, message)
        return None


def refusal(exc: PDPError, errors: dict[str, str], default: str) -> None:
    """A store's refusal (conflict, unknown reference) as the error of the field it names."""
    errors[exc.field or default] = exc.message
