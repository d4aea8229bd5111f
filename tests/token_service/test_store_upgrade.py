"""A database made by an earlier release opens under this one: missing columns are added."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from token_service.store.models import Base
from token_service.store.repositories import Store


def _columns(store: Store, table: str) -> set[str]:
    return {column["name"] for column in inspect(store.engine).get_columns(table)}


def test_columns_added_since_a_database_was_made_are_added_when_it_opens(
    database_url: str,
) -> None:
    store = Store(database_url)
    with store.engine.begin() as connection:
        connection.execute(text('ALTER TABLE users DROP COLUMN "srp_verifier"'))
        connection.execute(text('ALTER TABLE user_pools DROP COLUMN "mfa_configuration"'))
        connection.execute(
            text(
                "INSERT INTO user_pools (id, name, region, password_policy, custom_attributes,"
                " created_at, updated_at) VALUES ('us-east-1_abcdefghi', 'old', 'us-east-1',"
                " '{}', '[]', 0, 0)"
            )
        )
    store.dispose()
    assert "srp_verifier" not in _columns(store, "users")

    upgraded = Store(database_url)
    try:
        for table in Base.metadata.sorted_tables:
            assert {c.name for c in table.columns} <= _columns(upgraded, table.name)
        with upgraded.transaction() as repo:
            pool = repo.pool("us-east-1_abcdefghi")
            assert pool is not None and pool.name == "old"
            assert pool.mfa_configuration is None
    finally:
        upgraded.dispose()


@pytest.mark.parametrize("table", [t.name for t in Base.metadata.sorted_tables])
def test_every_column_a_release_may_add_is_nullable_or_in_the_first_schema(table: str) -> None:
    first_release = {
        "user_pools": {"id", "name", "region", "password_policy", "custom_attributes",
                       "created_at", "updated_at"},
        "app_clients": {"id", "pool_id", "name", "secret_sealed", "explicit_auth_flows",
                        "oauth_flows", "scopes", "access_token_seconds", "id_token_seconds",
                        "refresh_token_seconds", "created_at", "updated_at"},
        "users": {"sub", "pool_id", "username", "username_key", "attributes", "enabled",
                  "status", "password_hash", "created_at", "updated_at"},
        "refresh_tokens": {"token_hash", "origin_jti", "pool_id", "client_id", "user_sub",
                           "auth_time", "expires_at", "revoked_at"},
    }  # fmt: skip
    columns = Base.metadata.tables[table].columns
    original = first_release.get(table)
    if original is None:
        return
    for column in columns:
        assert column.name in original or column.nullable, column.name
