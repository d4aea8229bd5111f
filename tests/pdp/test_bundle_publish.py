"""Publishing: what is validated before a bundle is stored, and how replicas follow activations.

Each refusal is checked for its reason code and for leaving the store empty.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pdp.bundles.archive import write_archive
from pdp.bundles.publish import BundleRejected, BundleService
from pdp.bundles.signing import bundle_digest, sign_files
from pdp.bundles.store import BundleStore, NewBundle
from pdp.directory.store import DirectoryStore
from pdp.errors import Conflict, InvalidRequest, NotFound
from pdp.metrics import Metrics
from pdp.policy import BundleFollower, PolicyRuntime
from pdp.settings import DEFAULT_ENTRYPOINT, Settings, SettingsError

TINY_POLICY = """package authz

import rego.v1

decision := {"allow": input.action == data.allowed_action, "reasons": [data.tag]}
"""
TINY_TEST = """package authz_test

import rego.v1

test_allows_the_allowed_action if {
	data.authz.decision.allow with input.action as "document:read"
}
"""
CRASHING_POLICY = """package authz

import rego.v1

decision := {"allow": true, "reasons": [x]} if {
	[a, bits] := split("1/2", "/")
	x := bits.lsh(1, 2)
}
"""


def bundle_files(
    revision: str, *, tag: str | None = None, policy: str = TINY_POLICY, test: str = TINY_TEST
) -> dict[str, bytes]:
    """A small valid bundle whose decisions name `tag` (default: the revision)."""
    return {
        ".manifest": json.dumps({"revision": revision, "roots": [""]}).encode(),
        "authz/policy.rego": policy.encode(),
        "authz/policy_test.rego": test.encode(),
        "data.json": json.dumps(
            {"allowed_action": "document:read", "tag": tag or revision}
        ).encode(),
    }


def archive(revision: str, **kwargs: str) -> bytes:
    return write_archive(bundle_files(revision, **kwargs))


def raw_tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """A .tar.gz written entry by entry, for archives write_archive would never produce."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb") as compressed,
        tarfile.open(fileobj=compressed, mode="w") as tar,
    ):
        for info, content in entries:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def entry(name: str, content: bytes = b"{}", kind: bytes = tarfile.REGTYPE) -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(content) if kind == tarfile.REGTYPE else 0
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    return info, content if kind == tarfile.REGTYPE else None


class Env:
    """A bundle service over a fresh SQLite store, following `main` like a replica does."""

    def __init__(self, tmp: Path, **service_options) -> None:
        self.directory = DirectoryStore(f"sqlite:///{tmp / 'pdp.db'}")
        self.store = BundleStore(self.directory.engine)
        self.metrics = Metrics()
        self.runtime = PolicyRuntime(DEFAULT_ENTRYPOINT, self.metrics)
        self.follower = BundleFollower(self.runtime, self.store, "main", max_bytes=1 << 20)
        options = {"verification_keys": {}, "max_bytes": 1 << 20, **service_options}
        self.service = BundleService(self.store, self.runtime, follower=self.follower, **options)

    def stored(self) -> list[str]:
        return [r.revision for r in self.store.list("main")[0]]

    def decide_tag(self) -> list[str]:
        policy = self.runtime.active
        assert policy is not None
        return policy.evaluator.evaluate(DEFAULT_ENTRYPOINT, {"action": "x"})["reasons"]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    environment = Env(tmp_path)
    yield environment
    environment.directory.close()


def test_publish_stores_a_valid_bundle_once(env: Env) -> None:
    data = archive("r1")
    published = env.service.publish("main", data, "ci")
    assert published.created
    record = published.record
    assert (record.revision, record.published_by, record.size) == ("r1", "ci", len(data))
    assert record.digest == bundle_digest(data)
    assert record.manifest == {"revision": "r1", "roots": [""], "metadata": {}}
    assert not record.active
    again = env.service.publish("main", data, "someone-else")
    assert not again.created
    assert again.record == record
    assert env.store.archive("main", "r1") == data
    assert env.runtime.active is None  # publishing activates nothing


def test_same_revision_with_other_bytes_conflicts(env: Env) -> None:
    env.service.publish("main", archive("r1"), "ci")
    with pytest.raises(Conflict):
        env.service.publish("main", archive("r1", tag="changed"), "ci")
    assert env.stored() == ["r1"]


def test_activate_swaps_at_once_and_rollback_returns(env: Env) -> None:
    env.service.publish("main", archive("r1"), "ci")
    env.service.publish("main", archive("r2"), "ci")
    assert env.service.activate("main", "r1", "admin").active
    assert env.runtime.revision == "r1"
    assert env.decide_tag() == ["r1"]
    env.service.activate("main", "r2", "admin")
    assert (env.runtime.revision, env.decide_tag()) == ("r2", ["r2"])
    assert env.service.rollback("main", "admin").revision == "r1"
    assert (env.runtime.revision, env.decide_tag()) == ("r1", ["r1"])
    with pytest.raises(NotFound):
        env.service.activate("main", "r3", "admin")
    assert env.service.active("main").revision == "r1"  # type: ignore[union-attr]
    # Another name is published and activated without touching what this replica serves.
    env.service.publish("edge", archive("e1"), "ci")
    env.service.activate("edge", "e1", "admin")
    assert env.runtime.revision == "r1"


@pytest.mark.parametrize("name", ["", "../main", "a b"])
def test_bad_names_are_refused(env: Env, name: str) -> None:
    with pytest.raises(InvalidRequest):
        env.service.publish(name, archive("r1"), "ci")


# --- refusals: each stores nothing --------------------------------------------------------------


def refusal(env: Env, data: bytes) -> BundleRejected:
    with pytest.raises(BundleRejected) as info:
        env.service.publish("main", data, "ci")
    assert info.value.status == 400
    assert info.value.field == "body"
    assert env.stored() == []
    return info.value


def test_failing_rego_test_refuses(env: Env) -> None:
    failing = TINY_TEST.replace('"document:read"', '"document:delete"')
    error = refusal(env, archive("r1", test=failing))
    assert error.code == "bundle_refused"
    assert "1 Rego test(s) failed: authz_test.test_allows_the_allowed_action" in error.message


def test_a_bundle_that_does_not_compile_refuses(env: Env) -> None:
    error = refusal(env, archive("r1", policy=TINY_POLICY + "\nbroken := {\n"))
    assert error.code == "bundle_refused"
    assert "authz/policy.rego:" in error.message


def test_a_bundle_that_fails_on_smoke_input_refuses(env: Env) -> None:
    # Compiles and passes its (empty) tests, but the decision calls an unknown function.
    policy = TINY_POLICY.replace("[data.tag]", "[nosuch(data.tag)]")
    error = refusal(env, archive("r1", policy=policy, test="package other\n"))
    assert error.code == "bundle_refused"
    assert "nosuch" in error.message


def test_the_crashing_policy_refuses(env: Env) -> None:
    error = refusal(env, archive("r1", policy=CRASHING_POLICY, test="package other\n"))
    assert error.code == "bundle_refused"


def test_an_engine_crash_in_the_child_refuses(env: Env, monkeypatch) -> None:
    from pdp.engine import compiler

    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(compiler, "CHILD_COMMAND", (sys.executable, "-c", crash))
    error = refusal(env, archive("r1"))
    assert error.code == "bundle_refused"
    assert "engine crashed (SIGSEGV)" in error.message


def test_named_networks_that_are_not_cidrs_refuse(env: Env) -> None:
    files = bundle_files("r1")
    files["networks/data.json"] = b'{"office": ["not-a-cidr"]}'
    error = refusal(env, write_archive(files))
    assert "not a CIDR" in error.message


def _truncated() -> bytes:
    data = archive("r1")
    return data[: len(data) // 2]


def _flipped() -> bytes:
    data = bytearray(archive("r1"))
    data[len(data) // 2] ^= 0x01
    return bytes(data)


def _with(name: str, content: bytes) -> bytes:
    return write_archive({**bundle_files("r1"), name: content})


BAD_ARCHIVES = {
    "empty body": b"",
    "not gzip": b"PK\x03\x04 a zip file",
    "truncated": _truncated(),
    "one flipped byte": _flipped(),
    "dot-dot entry": raw_tar([entry(".manifest", b"{}"), entry("../evil.rego", b"package x")]),
    "symlink": raw_tar([entry(".manifest", b"{}"), entry("link", kind=tarfile.SYMTYPE)]),
    "device": raw_tar([entry(".manifest", b"{}"), entry("dev", kind=tarfile.CHRTYPE)]),
    "no manifest": write_archive({"authz/policy.rego": TINY_POLICY.encode()}),
    "manifest not json": _with(".manifest", b"{revision"),
    "manifest roots not strings": _with(".manifest", b'{"revision": "r1", "roots": [1]}'),
    "overlapping roots": _with(".manifest", b'{"revision": "r1", "roots": ["a", "a/b"]}'),
    "invalid json data": _with("x/data.json", b'{"a": '),
    "invalid yaml data": _with("y/data.yaml", b"a: [1, 2\n"),
    "revision too long": _with(".manifest", json.dumps({"revision": "r" * 300}).encode()),
    "revision with a newline": _with(".manifest", b'{"revision": "r1\\nx"}'),
}


@pytest.mark.parametrize("data", BAD_ARCHIVES.values(), ids=BAD_ARCHIVES.keys())
def test_bad_archives_refuse(env: Env, data: bytes) -> None:
    assert refusal(env, data).code == "invalid_bundle"


def test_decompressed_size_over_the_limit_refuses(tmp_path: Path) -> None:
    small = Env(tmp_path, max_bytes=4096)
    data = _with("big/data.json", json.dumps({"pad": "x" * 10_000}).encode())
    assert len(data) < 4096  # compresses well: only the decompressed size is over
    error = refusal(small, data)
    assert error.code == "invalid_bundle"
    assert "exceeds 4096 bytes" in error.message
    small.directory.close()


def test_rego_that_does_not_parse_refuses(env: Env) -> None:
    error = refusal(env, _with("authz/broken.rego", b"package authz\n\nallow if {{{\n"))
    assert error.code == "bundle_refused"
    assert "authz/broken.rego" in error.message


# --- following the active revision --------------------------------------------------------------


def store_unvalidated(store: BundleStore, revision: str, data: bytes) -> None:
    """Put a bundle in the store the way a replica of another version might have."""
    store.add(
        NewBundle(
            name="main",
            revision=revision,
            digest=bundle_digest(data),
            archive=data,
            published_by="elsewhere",
            signature_status="unsigned",
            signature_key_id=None,
            manifest={"revision": revision},
        )
    )


def test_follower_loads_the_active_revision_once(env: Env) -> None:
    assert env.follower.sync() is False  # nothing active yet
    env.service.publish("main", archive("r1"), "ci")
    env.store.activate("main", "r1", "admin")  # as another replica would
    assert env.follower.sync() is True
    assert env.runtime.revision == "r1"
    assert env.follower.sync() is False


def test_follower_keeps_serving_when_the_new_revision_fails(env: Env) -> None:
    env.service.publish("main", archive("r1"), "ci")
    env.service.activate("main", "r1", "admin")
    store_unvalidated(env.store, "crash", archive("crash", policy=CRASHING_POLICY))
    env.store.activate("main", "crash", "admin")
    assert env.follower.sync() is False
    assert env.runtime.revision == "r1"
    assert env.decide_tag() == ["r1"]
    failure = env.runtime.last_failure
    assert failure is not None and failure.revision == "crash"
    assert env.metrics.bundle_load_failures._value.get() == 1
    # The same broken revision is not recompiled on every poll.
    assert env.follower.sync() is False
    assert env.metrics.bundle_load_failures._value.get() == 1
    # Rolling back clears the failure and serves the good one again.
    env.service.rollback("main", "admin")
    assert env.runtime.revision == "r1"
    assert env.runtime.last_failure is None


def test_follower_retries_a_failed_revision_after_a_while(env: Env) -> None:
    follower = BundleFollower(env.runtime, env.store, "main", max_bytes=1 << 20, retry_seconds=0)
    store_unvalidated(env.store, "bad", b"not an archive")
    env.store.activate("main", "bad", "admin")
    assert follower.sync() is False
    assert follower.sync() is False
    assert env.metrics.bundle_load_failures._value.get() == 2
    assert "not a gzip file" in env.runtime.last_failure.message  # type: ignore[union-attr]


# --- signatures -----------------------------------------------------------------------------------


def new_key_pair() -> tuple[bytes, str]:
    """(private PEM, public PEM) of a fresh RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


@pytest.fixture(scope="module")
def signing_key() -> tuple[bytes, str]:
    return new_key_pair()


def signed_files(private_pem: bytes, key_id: str = "ci-key") -> dict[str, bytes]:
    files = bundle_files("signed-1")
    return {**files, ".signatures.json": sign_files(files, private_pem, key_id)}


@pytest.fixture
def verifying(tmp_path: Path, signing_key) -> Iterator[Env]:
    environment = Env(tmp_path, verification_keys={"ci-key": signing_key[1]})
    yield environment
    environment.directory.close()


def test_a_signed_bundle_is_published_with_its_key_id(verifying: Env, signing_key) -> None:
    data = write_archive(signed_files(signing_key[0]))
    record = verifying.service.publish("main", data, "ci").record
    assert (record.signature_status, record.signature_key_id) == ("verified", "ci-key")


def test_without_keys_a_signature_is_recorded_unverified(env: Env, signing_key) -> None:
    signed = env.service.publish("main", write_archive(signed_files(signing_key[0])), "ci")
    assert signed.record.to_json()["signature"] == {
        "status": "signed_unverified",
        "key_id": "ci-key",
    }
    unsigned = env.service.publish("main", archive("plain"), "ci")
    assert unsigned.record.to_json()["signature"] == {"status": "unsigned", "key_id": None}


def _tampered(files: dict[str, bytes]) -> dict[str, bytes]:
    rego = bytearray(files["authz/policy.rego"])
    rego[rego.index(b"data.tag")] ^= 0x20  # one byte: "data.tag" -> "Data.tag"
    return {**files, "authz/policy.rego": bytes(rego)}


def test_signature_refusals(verifying: Env, signing_key) -> None:
    private = signing_key[0]
    other_pem = new_key_pair()[0]
    files = signed_files(private)
    extra = {**files, "extra/data.json": b"{}"}
    cases = {
        "unsigned": archive("r1"),
        "unknown_key_id": write_archive(signed_files(private, key_id="who")),
        "bad_signature": write_archive(
            {**files, ".signatures.json": sign_files(bundle_files("signed-1"), other_pem, "ci-key")}
        ),
        "file_mismatch": write_archive(_tampered(files)),
        "extra_file": write_archive(extra),
        "missing_file": write_archive(
            {k: v for k, v in files.items() if k != "authz/policy_test.rego"}
        ),
    }
    for reason, data in cases.items():
        error = refusal(verifying, data)
        assert error.code == reason, (reason, error.message)


def test_one_flipped_byte_of_a_signed_archive_refuses(verifying: Env, signing_key) -> None:
    data = bytearray(write_archive(signed_files(signing_key[0])))
    data[len(data) // 2] ^= 0x01
    assert refusal(verifying, bytes(data)).code == "invalid_bundle"


def test_a_verification_key_that_is_not_pem_stops_the_service(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PDP_BUNDLE_VERIFICATION_KEYS\\['k'\\]"):
        Env(tmp_path, verification_keys={"k": "-----BEGIN PUBLIC KEY-----\nnope\n"})


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PDP_BUNDLE_VERIFICATION_KEYS", "{", "not valid JSON"),
        ("PDP_BUNDLE_VERIFICATION_KEYS", '["pem"]', "must map key ids"),
        ("PDP_BUNDLE_VERIFICATION_KEYS", '{"k": "not a pem"}', "must map key ids"),
        ("PDP_BUNDLE_VERIFICATION_KEYS", '{"": "-----BEGIN PUBLIC KEY-----"}', "must map key ids"),
        ("PDP_BUNDLE_MAX_BYTES", "64MB", "must be an integer"),
        ("PDP_BUNDLE_POLL_SECONDS", "0", "greater than 0"),
        ("PDP_BUNDLE_POLL_SECONDS", "soon", "must be a number"),
    ],
)
def test_bad_bundle_settings(monkeypatch, variable: str, value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message):
        Settings.from_env()


def test_bundle_settings_from_the_environment(monkeypatch, signing_key) -> None:
    monkeypatch.setenv("PDP_BUNDLE_VERIFICATION_KEYS", json.dumps({"k1": signing_key[1]}))
    monkeypatch.setenv("PDP_BUNDLE_MAX_BYTES", "1000")
    monkeypatch.setenv("PDP_BUNDLE_NAME", "edge")
    monkeypatch.setenv("PDP_BUNDLE_POLL_SECONDS", "0.25")
    settings = Settings.from_env()
    assert settings.bundle_verification_keys == {"k1": signing_key[1]}
    assert (settings.bundle_max_bytes, settings.bundle_name) == (1000, "edge")
    assert settings.bundle_poll_seconds == 0.25
    for variable in ("VERIFICATION_KEYS", "MAX_BYTES", "NAME", "POLL_SECONDS"):
        monkeypatch.delenv(f"PDP_BUNDLE_{variable}")
    defaults = Settings.from_env()
    assert defaults.bundle_verification_keys == {}
    assert (defaults.bundle_max_bytes, defaults.bundle_name) == (64 * 1024 * 1024, "main")
    assert defaults.bundle_poll_seconds == 1.0
