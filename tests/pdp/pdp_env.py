"""Building a real in-process PDP (store, snapshot, compiled default policy) for API tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from pdp.api.app import create_app
from pdp.directory.document import import_document, load_document
from pdp.directory.store import DirectoryStore
from pdp.services import Services
from pdp.settings import Settings, TrustedIssuer
from tests.support.issuer import TestIssuer

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
DEMO_DIRECTORY = POLICIES / "examples" / "directory.yaml"

ACME = "4f1c2d3e-0000-4000-8000-000000000001"
GLOBEX = "9a7b6c5d-0000-4000-8000-000000000002"
ALICE = "6f0b2c1e-0000-4000-8000-00000000a11c"  # acme, engineering group -> editor
BOB = "6f0b2c1e-0000-4000-8000-000000000b0b"  # acme, company role viewer only
ELLEN = "6f0b2c1e-0000-4000-8000-0000000e11e0"  # globex admin
REPORTING = "demo-reporting-service"  # acme machine client, auditor


@contextmanager
def running_pdp(
    tmp: Path,
    issuer: TestIssuer,
    *,
    bundle: Path | None = POLICIES,
    directory: Path | None = DEMO_DIRECTORY,
    require_pep_auth: bool = True,
    **overrides,
) -> Iterator[tuple[TestClient, Services]]:
    database_url = f"sqlite:///{tmp / 'pdp.db'}"
    if directory is not None:
        import_document(DirectoryStore(database_url), load_document(directory))
    settings = Settings(
        database_url=database_url,
        bundle=bundle,
        trusted_issuers=(TrustedIssuer(issuer=issuer.issuer, jwks_uri=issuer.jwks_uri),),
        require_pep_auth=require_pep_auth,
        **overrides,
    )
    services = Services.build(settings)
    try:
        with TestClient(create_app(services=services)) as client:
            yield client, services
    finally:
        services.close()


def document_request(subject: dict, action: str = "document:read", **resource_extra) -> dict:
    resource = {"type": "document", "id": "d1", "tenant_id": ACME, "attributes": {}}
    resource.update(resource_extra)
    return {
        "subject": subject,
        "action": action,
        "resource": resource,
        "context": {"ip": "10.1.2.3"},
    }
