"""Resource servers: the custom scopes machine clients are granted."""

from __future__ import annotations

import re
from collections.abc import Sequence

from token_service.admin.base import AdminBase
from token_service.errors import InvalidParameter
from token_service.store.models import ResourceServer


class ResourceServerAdmin(AdminBase):
    def create_resource_server(
        self, pool_id: str, identifier: str, name: str, scopes: Sequence[tuple[str, str]]
    ) -> ResourceServer:
        if not identifier or not name:
            raise InvalidParameter("Identifier and Name are required.")
        names = [scope for scope, _ in scopes]
        if len(set(names)) != len(names) or not all(
            re.fullmatch(r"[\x21\x23-\x5B\x5D-\x7E]+", n) for n in names
        ):
            raise InvalidParameter("Scope names must be unique and contain no spaces or quotes.")
        server = ResourceServer(
            pool_id=pool_id,
            identifier=identifier,
            name=name,
            scopes=[{"ScopeName": n, "ScopeDescription": d or n} for n, d in scopes],
        )
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            if repo.resource_server(pool_id, identifier) is not None:
                raise InvalidParameter(f"{identifier} already exists in pool {pool_id}.")
            repo.add(server)
        return server

    def list_resource_servers(self, pool_id: str) -> list[ResourceServer]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.resource_servers(pool_id))
