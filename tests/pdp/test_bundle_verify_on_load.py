"""Every replica verifies a bundle's signature with its own keys when it loads it.

The bundle store is shared: a replica without verification keys can publish and activate an
unsigned bundle there. A replica with keys must refuse it (and say why in `/health`), keep
serving what it had, and follow again once a revision signed by a key it trusts is active.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from pdp.bundles.archive import read_archive, write_archive
from pdp.bundles.loader import read_directory
from pdp.bundles.signing import SignatureError, sign_files
from pdp.services import Services
from pdp.settings import Settings
from tests.pdp.pdp_env import ALICE, document_request, running_pdp
from tests.pdp.test_bundle_publish import archive, bundle_files, new_key_pair

TRUSTED = "release"


@dataclass
class Replica:
    client: TestClient
    services: Services

    def sync(self) -> None:
        """Look at the store's active revision now rather than at the next poll."""
        assert self.services.follower is not None
        self.services.follower.sync()

    def health(self) -> dict:
        return self.client.get("/health").json()

    def decide(self) -> dict:
        response = self.client.post("/decide", json=document_request({"id": ALICE}))
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, str]:
    return new_key_pair()


def signed_archive(revision: str, private_pem: bytes, key_id: str = TRUSTED) -> bytes:
    files = bundle_files(revision)
    return write_archive({**files, ".signatures.json": sign_files(files, private_pem, key_id)})


def tampered_archive(revision: str, private_pem: bytes) -> bytes:
    """Signed, then a data file changed: the signature no longer covers the content."""
    files = read_archive(signed_archive(revision, private_pem))
    data = files["data.json"].replace(f'"{revision}"'.encode(), b'"tampered"')
    return write_archive({**files, "data.json": data})


@pytest.fixture
def replicas(tmp_path, issuer, key_pair) -> Iterator[tuple[Replica, Replica, dict[str, str]]]:
    """Replica A trusts no keys, replica B trusts `release`; both follow one SQLite store."""
    options = {"bundle": None, "require_pep_auth": False, "bundle_poll_seconds": 3600.0}
    keys = {TRUSTED: key_pair[1]}
    admin = {"Authorization": f"Bearer {issuer.machine_token('ops', scope='pdp/admin')}"}
    with (
        running_pdp(tmp_path, issuer, **options) as a,
        running_pdp(
            tmp_path, issuer, directory=None, bundle_verification_keys=keys, **options
        ) as b,
    ):
        yield Replica(*a), Replica(*b), admin


def publish_and_activate(replica: Replica, admin: dict[str, str], data: bytes, revision: str):
    published = replica.client.post("/admin/v1/bundles", content=data, headers=admin)
    assert published.status_code == 201, published.text
    activated = replica.client.post(f"/admin/v1/bundles/{revision}/activate", headers=admin)
    assert activated.status_code == 200, activated.text


def test_a_replica_with_keys_refuses_what_a_replica_without_keys_published(
    replicas, key_pair
) -> None:
    a, b, admin = replicas
    publish_and_activate(a, admin, archive("r1"), "r1")
    b.sync()
    assert a.decide()["bundle_revision"] == "r1"
    assert b.decide()["reasons"] == ["no_bundle"]
    health = b.health()
    assert health["bundle_revision"] is None
    error = health["bundle_error"]
    assert (error["revision"], error["reason"]) == ("r1", "unsigned")
    assert error["message"].startswith("revision 'r1' is not signed by a key this replica trusts")
    assert b.client.get("/health?bundles").status_code == 500

    publish_and_activate(a, admin, signed_archive("r2", key_pair[0]), "r2")
    b.sync()
    assert [a.decide()["bundle_revision"], b.decide()["bundle_revision"]] == ["r2", "r2"]
    assert b.health()["bundle_error"] is None


@pytest.mark.parametrize(
    ("reason", "make"),
    [
        ("unsigned", lambda revision, _: archive(revision)),
        ("unknown_key_id", lambda revision, pem: signed_archive(revision, pem, key_id="other")),
        ("bad_signature", lambda revision, _: signed_archive(revision, new_key_pair()[0])),
        ("file_mismatch", tampered_archive),
    ],
)
def test_an_untrusted_revision_leaves_the_trusted_one_serving(
    replicas, key_pair, reason, make
) -> None:
    a, b, admin = replicas
    publish_and_activate(a, admin, signed_archive("good", key_pair[0]), "good")
    b.sync()
    publish_and_activate(a, admin, make("bad", key_pair[0]), "bad")
    b.sync()
    assert a.decide()["bundle_revision"] == "bad"  # A trusts no keys: it serves what it stored
    assert b.decide()["bundle_revision"] == "good"
    error = b.health()["bundle_error"]
    assert (error["revision"], error["reason"]) == ("bad", reason)
    assert "not signed by a key this replica trusts" in error["message"]


# --- a bundle from disk (`pdp serve --bundle`) ------------------------------------------------


def test_a_bundle_on_disk_must_be_signed_by_a_configured_key(tmp_path, key_pair) -> None:
    unsigned = tmp_path / "unsigned.tar.gz"
    unsigned.write_bytes(archive("r1"))
    tampered = tmp_path / "tampered.tar.gz"
    tampered.write_bytes(tampered_archive("r1", key_pair[0]))
    directory = tmp_path / "dir"
    for name, content in bundle_files("r1").items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(content)
    assert read_directory(directory)  # a valid policy directory, but it carries no signature
    settings = {
        "database_url": f"sqlite:///{tmp_path / 'pdp.db'}",
        "bundle_verification_keys": {TRUSTED: key_pair[1]},
    }
    for path, reason in [
        (unsigned, "unsigned"),
        (tampered, "file_mismatch"),
        (directory, "unsigned"),
    ]:
        with pytest.raises(SignatureError) as refused:
            Services.build(Settings(bundle=path, **settings))
        assert refused.value.reason == reason
        assert str(refused.value).startswith(f"{path.name if path.is_file() else path}: revision")
    signed = tmp_path / "signed.tar.gz"
    signed.write_bytes(signed_archive("r1", key_pair[0]))
    services = Services.build(Settings(bundle=signed, **settings))
    try:
        assert services.policy.revision == "r1"
    finally:
        services.close()


def test_without_keys_a_bundle_on_disk_is_served_unsigned(tmp_path) -> None:
    unsigned = tmp_path / "unsigned.tar.gz"
    unsigned.write_bytes(archive("r1"))
    services = Services.build(
        Settings(database_url=f"sqlite:///{tmp_path / 'pdp.db'}", bundle=unsigned)
    )
    try:
        assert services.policy.revision == "r1"
    finally:
        services.close()
