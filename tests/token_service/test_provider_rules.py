"""Properties of the identity-provider rules: Cognito's name pattern, tenant lists, identifiers."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from token_service.admin.provider_rules import (
    check_identifiers,
    check_name,
    string_map,
    tenant_list,
)
from token_service.errors import InvalidParameter

_SPACING = st.characters(categories=["Zs", "Zl", "Zp"])
_VISIBLE = st.characters(categories=["L", "M", "S", "N", "P"]).filter(lambda c: c != "_")


def _matches_pattern(name: str) -> bool:
    """Cognito's pattern written out with `unicodedata`: an oracle independent of `regex`."""

    def spacing(ch: str) -> bool:
        return unicodedata.category(ch).startswith("Z")

    return (
        3 <= len(name) <= 32
        and name[0] != "_"
        and not spacing(name[0])
        and unicodedata.category(name[1])[0] in "LMSNP"
        and all(ch != "_" and not spacing(ch) for ch in name[2:])
    )


# Unassigned code points are left out: `regex` and `unicodedata` know different Unicode versions.
@given(st.text(st.characters(exclude_categories=["Cn"]), max_size=40))
def test_a_name_is_accepted_exactly_when_it_fits_the_pattern(name: str) -> None:
    reserved = name.upper() == "COGNITO" or name.lower() in (
        "google",
        "facebook",
        "loginwithamazon",
        "signinwithapple",
    )
    try:
        check_name(name, "OIDC")
    except InvalidParameter:
        assert reserved or not _matches_pattern(name)
    else:
        assert _matches_pattern(name) and not reserved


@given(st.text(_VISIBLE, min_size=3, max_size=32))
def test_names_of_visible_characters_are_accepted(name: str) -> None:
    if name.upper() != "COGNITO" and name.lower() not in ("google", "facebook"):
        check_name(name, "OIDC")


@given(st.text(_VISIBLE, min_size=2, max_size=10), _SPACING, st.text(_VISIBLE, max_size=10))
def test_spaces_and_underscores_after_the_start_are_refused(
    start: str, space: str, rest: str
) -> None:
    for bad in (start + space + rest, start + "_" + rest):
        with pytest.raises(InvalidParameter):
            check_name(bad, "SAML")


_TENANT = st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True)


@given(st.lists(_TENANT, max_size=5), st.lists(st.sampled_from([" ", ",", ", ", "\n"]), min_size=5))
def test_tenant_lists_read_back_what_was_written(tenants: list[str], separators: list[str]) -> None:
    text = "".join(t + separators[i] for i, t in enumerate(tenants))
    assert tenant_list(text) == tenants


@given(st.text(max_size=30))
def test_any_tenant_text_is_read_or_refused(text: str) -> None:
    try:
        tenants = tenant_list(text)
    except InvalidParameter as error:
        assert "allowed_tenants" in error.message
    else:
        assert all(t and " " not in t and "," not in t for t in tenants)


@given(st.lists(st.text(max_size=45), max_size=55))
def test_identifiers_are_kept_as_given_or_refused(identifiers: list[str]) -> None:
    try:
        kept = check_identifiers(identifiers)
    except InvalidParameter as error:
        assert "IdpIdentifiers" in error.message
    else:
        assert kept == identifiers and len({i.lower() for i in kept}) == len(kept) <= 50


@given(st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), st.integers())))
def test_maps_of_strings_only(value: dict[str, object]) -> None:
    try:
        assert string_map(value, "ProviderDetails") == value
    except InvalidParameter as error:
        assert "ProviderDetails" in error.message
