"""The console's forms over the admin API's models: what a form shows for a stored object,
posted back unchanged, is accepted by the very model it came from."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from pdp.console.model_forms import form_fields, request_body, validated
from pdp.console.pages.directory import EDIT_SKIPS, KINDS
from pdp.directory.schemas import TenantUpdate

MODELS = [kind.update for kind in KINDS.values()] + [kind.create for kind in KINDS.values()]


@pytest.mark.parametrize("model", [*MODELS, TenantUpdate], ids=lambda m: m.__name__)
def test_a_form_of_unset_fields_posted_back_unchanged_is_accepted(model: type[BaseModel]) -> None:
    fields = form_fields(model, {"id": "acme-corp"}, skip=EDIT_SKIPS)
    posted = {field.name: field.value for field in fields} | {"id": "acme-corp"}
    errors: dict[str, str] = {}
    assert validated(model, request_body(fields, posted, errors), errors) is not None, errors


def test_list_fields_show_an_empty_list_and_object_fields_an_empty_object() -> None:
    company = {f.name: f for f in form_fields(KINDS["companies"].update, {"id": "acme-corp"})}
    assert company["identity_providers"].widget == "json"
    assert company["identity_providers"].value == "[]"
    assert company["attributes"].value == "{}"
