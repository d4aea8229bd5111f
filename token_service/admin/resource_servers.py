"""Resource servers: the custom scopes machine clients are granted."""

from __future__ import annotations

import re
from collections.abc import Sequence

from token_service.admin.base import AdminBase
from token_service.admin.paging import paginate
from token_service.errors import InvalidParameter, ResourceNotFound
from token_service.store.models import ResourceServer
from token_service.store.repositories import Repository

_SCOPE_NAME = re.compile(r"[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]{1,256}")


def _scopes(name: str, scopes: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """Cognito's scope list; names unique, without spaces, quotes, slashes or backslashes."""
    if not name or len(name) > 256:
        raise InvalidParameter("Name must be 1 to 256 characters.")
    if len(scopes) > 100:
        raise InvalidParameter("A resource server has at most 100 scopes.")
    names = [scope for scope, _ in scopes]
    if len(set(names)) != len(names) or not all(_SCOPE_NAME.fullmatch(n) for n in names):
        raise InvalidParameter(
            "Scope names must be unique and contain no spaces, quotes or slashes."
        )
    return [{"ScopeName": n, "ScopeDescription": d or n} for n, d in scopes]


class ResourceServerAdmin(AdminBase):
    @staticmethod
    def require_resource_server(repo: Repository, pool_id: str, identifier: str) -> ResourceServer:
        AdminBase.require_pool(repo, pool_id)
        server = repo.resource_server(pool_id, identifier)
        if server is None:
            raise ResourceNotFound(f"Resource server {identifier} does not exist.")
        return server

    def create_resource_server(
        self, pool_id: str, identifier: str, name: str, scopes: Sequence[tuple[str, str]]
    ) -> ResourceServer:
        if not identifier or len(identifier) > 256:
            raise InvalidParameter("Identifier must be 1 to 256 characters.")
        server = ResourceServer(
            pool_id=pool_id, identifier=identifier, name=name, scopes=_scopes(name, scopes)
        )
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            if repo.resource_server(pool_id, identifier) is not None:
                raise InvalidParameter(f"{identifier} already exists in pool {pool_id}.")
            repo.add(server)
        return server

    def describe_resource_server(self, pool_id: str, identifier: str) -> ResourceServer:
        with self.core.store.transaction() as repo:
            return self.require_resource_server(repo, pool_id, identifier)

    def update_resource_server(
        self, pool_id: str, identifier: str, name: str, scopes: Sequence[tuple[str, str]]
    ) -> ResourceServer:
        """Replace name and scopes (omitted scopes are removed, as in Cognito)."""
        checked = _scopes(name, scopes)
        with self.core.store.transaction() as repo:
            server = self.require_resource_server(repo, pool_id, identifier)
            server.name, server.scopes = name, checked
            return server

    def delete_resource_server(self, pool_id: str, identifier: str) -> None:
        with self.core.store.transaction() as repo:
            repo.delete(self.require_resource_server(repo, pool_id, identifier))

    def list_resource_servers(self, pool_id: str) -> list[ResourceServer]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.resource_servers(pool_id))

    def resource_server_page(
        self, pool_id: str, limit: int, token: str | None
    ) -> tuple[list[ResourceServer], str | None]:
        return paginate(self.list_resource_servers(pool_id), limit, token)
