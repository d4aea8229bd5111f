"""Bundle signatures: OPA's `.signatures.json`, canonical JSON digests, every refusal reason."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.bundles import (
    BundleFormatError,
    SignatureError,
    SignatureStatus,
    bundle_digest,
    file_digest,
    sign_files,
    verify_files,
)
from pdp.bundles.signing import (
    canonical_json,
    load_private_key,
    load_public_key,
    require_trusted,
)

SIGNATURES = ".signatures.json"


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_pem: str
    algorithm: str


def key_pair(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, alg: str) -> KeyPair:
    return KeyPair(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        alg,
    )


@pytest.fixture(scope="module", params=["RS256", "ES256"])
def keys(request: pytest.FixtureRequest) -> KeyPair:
    if request.param == "RS256":
        return key_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    return key_pair(ec.generate_private_key(ec.SECP256R1()), "ES256")


@pytest.fixture(scope="module")
def other_keys() -> KeyPair:
    return key_pair(ec.generate_private_key(ec.SECP256R1()), "ES256")


FILES = {
    ".manifest": b'{"revision":"r1","roots":["authz"]}',
    "authz/policy.rego": b"package authz\nimport rego.v1\nallow := true\n",
    "authz/data.json": b'{"limits": {"max": 3}, "names": ["a", "b"]}',
}


def signed(keys: KeyPair, files: dict[str, bytes] = FILES, key_id: str = "ci") -> dict[str, bytes]:
    return {**files, SIGNATURES: sign_files(files, keys.private_pem, key_id, keys.algorithm)}


def refusal(files: dict[str, bytes], public_keys: dict[str, str]) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        verify_files(files, public_keys)
    return caught.value


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- the format OPA writes --------------------------------------------------------------------


def test_signature_file_is_what_opa_writes(keys: KeyPair) -> None:
    document = json.loads(sign_files(FILES, keys.private_pem, "ci", keys.algorithm))
    assert list(document) == ["signatures"] and len(document["signatures"]) == 1
    token = document["signatures"][0]
    assert jwt.get_unverified_header(token) == {"alg": keys.algorithm, "kid": "ci"}
    payload = jwt.api_jws.decode(token, load_public_key(keys.public_pem), [keys.algorithm])
    claims = json.loads(payload)
    assert claims["keyid"] == "ci"
    assert claims["files"] == [
        {"name": name, "hash": file_digest(name, FILES[name]), "algorithm": "SHA-256"}
        for name in sorted(FILES)
    ]


def test_verified(keys: KeyPair) -> None:
    status = verify_files(signed(keys), {"ci": keys.public_pem, "other": keys.public_pem})
    assert status == SignatureStatus("verified", "ci")
    assert status.to_dict() == {"status": "verified", "key_id": "ci"}


def test_reformatting_json_keeps_the_signature(keys: KeyPair) -> None:
    files = signed(keys)
    files["authz/data.json"] = b'{\n  "names": [ "a", "b" ],\n  "limits": {"max": 3}\n}\n'
    files[".manifest"] = b'{"roots": ["authz"], "revision": "r1"}'
    assert verify_files(files, {"ci": keys.public_pem}).status == "verified"


def test_without_keys_the_status_is_reported() -> None:
    assert verify_files(FILES, {}) == SignatureStatus("unsigned", None)


def test_signed_but_no_keys_configured(keys: KeyPair) -> None:
    assert verify_files(signed(keys), {}) == SignatureStatus("signed_unverified", "ci")


def test_serving_requires_a_trusted_signature_only_when_keys_are_configured(
    keys: KeyPair, other_keys: KeyPair
) -> None:
    require_trusted(FILES, {}, "r1")  # no keys: what the store holds serves, as it is published
    require_trusted(signed(keys), {"ci": keys.public_pem}, "r1")
    with pytest.raises(SignatureError) as caught:
        require_trusted(signed(other_keys), {"ci": keys.public_pem}, "r1")
    assert caught.value.reason == "bad_signature"
    assert str(caught.value).startswith(
        "revision 'r1' is not signed by a key this replica trusts (bad_signature: "
    )


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FILES))
def test_one_byte_changed_in_any_file(keys: KeyPair, name: str) -> None:
    files = signed(keys)
    content = bytearray(files[name])
    content[content.index(b"a")] = ord("b")
    files[name] = bytes(content)
    error = refusal(files, {"ci": keys.public_pem})
    assert error.reason == "file_mismatch" and str(error).startswith(f"{name}:")


def test_unsigned_with_keys_configured(keys: KeyPair) -> None:
    error = refusal(dict(FILES), {"ci": keys.public_pem})
    assert error.reason == "unsigned" and SIGNATURES in str(error)


def test_unknown_key_id(keys: KeyPair) -> None:
    error = refusal(signed(keys, key_id="someone"), {"ci": keys.public_pem})
    assert error.reason == "unknown_key_id" and "'someone'" in str(error)


def test_key_id_from_the_payload_when_the_header_has_none(keys: KeyPair) -> None:
    """OPA's deprecated `keyid` claim: a signature without `kid` still names its key."""
    payload = json.dumps({"files": json.loads(_payload(signed(keys)))["files"], "keyid": "ci"})
    token = jwt.api_jws.encode(
        payload.encode(),
        load_private_key(keys.private_pem, keys.algorithm),
        algorithm=keys.algorithm,
        headers={"typ": None},
    )
    files = {**FILES, SIGNATURES: json.dumps({"signatures": [token]}).encode()}
    assert verify_files(files, {"ci": keys.public_pem}) == SignatureStatus("verified", "ci")


def test_signed_by_another_key(keys: KeyPair, other_keys: KeyPair) -> None:
    error = refusal(signed(keys), {"ci": other_keys.public_pem})
    assert error.reason == "bad_signature" and "'ci'" in str(error)


def test_payload_swapped_under_the_signature(keys: KeyPair) -> None:
    files = signed(keys)
    header, _, signature = json.loads(files[SIGNATURES])["signatures"][0].split(".")
    forged = b64({"files": [], "keyid": "ci"})
    files[SIGNATURES] = json.dumps({"signatures": [f"{header}.{forged}.{signature}"]}).encode()
    assert refusal(files, {"ci": keys.public_pem}).reason == "bad_signature"


def test_signature_over_a_different_file_list(keys: KeyPair) -> None:
    extra = signed(keys)
    extra["authz/extra.rego"] = b"package authz\n"
    error = refusal(extra, {"ci": keys.public_pem})
    assert (error.reason, str(error).split(":")[0]) == ("extra_file", "authz/extra.rego")

    missing = signed(keys)
    del missing["authz/data.json"]
    error = refusal(missing, {"ci": keys.public_pem})
    assert (error.reason, str(error).split(":")[0]) == ("missing_file", "authz/data.json")

    unlisted_manifest = signed(keys, {k: v for k, v in FILES.items() if k != ".manifest"})
    unlisted_manifest[".manifest"] = FILES[".manifest"]
    error = refusal(unlisted_manifest, {"ci": keys.public_pem})
    assert (error.reason, str(error).split(":")[0]) == ("extra_file", ".manifest")


@pytest.mark.parametrize("alg", ["HS256", "none", None])
def test_unsupported_algorithm(keys: KeyPair, alg: str | None) -> None:
    files = signed(keys)
    _, payload, signature = json.loads(files[SIGNATURES])["signatures"][0].split(".")
    header = b64({"alg": alg, "kid": "ci"} if alg else {"kid": "ci"})
    files[SIGNATURES] = json.dumps({"signatures": [f"{header}.{payload}.{signature}"]}).encode()
    assert refusal(files, {"ci": keys.public_pem}).reason == "unsupported_algorithm"


def test_unsupported_hash_algorithm(keys: KeyPair) -> None:
    payload = json.loads(_payload(signed(keys)))
    payload["files"][0]["algorithm"] = "MD5"
    files = _resign(keys, payload)
    error = refusal(files, {"ci": keys.public_pem})
    assert error.reason == "unsupported_algorithm" and str(error).startswith(".manifest:")


def test_other_sha2_hashes_are_accepted(keys: KeyPair) -> None:
    payload = json.loads(_payload(signed(keys)))
    for entry in payload["files"]:
        canonical = canonical_json(entry["name"], FILES[entry["name"]])
        is_structured = entry["name"] != "authz/policy.rego"
        content = canonical if is_structured else FILES[entry["name"]]
        entry.update(algorithm="SHA-512", hash=hashlib.sha512(content).hexdigest())
    assert verify_files(_resign(keys, payload), {"ci": keys.public_pem}).status == "verified"


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"{}",
        b'{"signatures": []}',
        b'{"signatures": ["a.b.c", "d.e.f"]}',
        b'{"signatures": ["not a jws"]}',
        b'{"signatures": [42]}',
    ],
)
def test_malformed_signature_file(keys: KeyPair, content: bytes) -> None:
    files = {**FILES, SIGNATURES: content}
    assert refusal(files, {"ci": keys.public_pem}).reason == "bad_signature"
    assert refusal(files, {}).reason == "bad_signature"


@pytest.mark.parametrize(
    "payload",
    [{"keyid": "ci"}, {"files": "x", "keyid": "ci"}, {"files": [{"name": 1}], "keyid": "ci"}],
)
def test_malformed_file_list(keys: KeyPair, payload: dict) -> None:
    assert refusal(_resign(keys, payload), {"ci": keys.public_pem}).reason == "bad_signature"


def test_file_listed_twice(keys: KeyPair) -> None:
    payload = json.loads(_payload(signed(keys)))
    payload["files"].append(payload["files"][0])
    error = refusal(_resign(keys, payload), {"ci": keys.public_pem})
    assert error.reason == "bad_signature" and "listed twice" in str(error)


def _payload(files: dict[str, bytes]) -> bytes:
    token = json.loads(files[SIGNATURES])["signatures"][0]
    return jwt.api_jws.decode_complete(token, options={"verify_signature": False})["payload"]


def _resign(keys: KeyPair, payload: dict) -> dict[str, bytes]:
    """FILES with a valid JWS over an arbitrary payload (the key is right, the list is not)."""
    token = jwt.api_jws.encode(
        json.dumps(payload).encode(),
        load_private_key(keys.private_pem, keys.algorithm),
        algorithm=keys.algorithm,
        headers={"kid": "ci", "typ": None},
    )
    return {**FILES, SIGNATURES: json.dumps({"signatures": [token]}).encode()}


# --- keys -------------------------------------------------------------------------------------


def test_signing_key_must_fit_the_algorithm(keys: KeyPair) -> None:
    other = "ES256" if keys.algorithm == "RS256" else "RS256"
    with pytest.raises(ValueError, match=f"{other} needs"):
        sign_files(FILES, keys.private_pem, "ci", other)
    with pytest.raises(ValueError, match="not one of"):
        sign_files(FILES, keys.private_pem, "ci", "HS256")
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        sign_files(FILES, keys.public_pem.encode(), "ci", keys.algorithm)
    p384 = key_pair(ec.generate_private_key(ec.SECP384R1()), "ES256")
    with pytest.raises(ValueError, match="ES256 needs an EC P-256 key"):
        sign_files(FILES, p384.private_pem, "ci", "ES256")


def test_public_keys() -> None:
    with pytest.raises(ValueError, match="not a PEM public key"):
        load_public_key("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    pem = ed.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="cannot verify bundles"):
        load_public_key(pem)


def test_a_configured_key_that_is_not_a_key_refuses(keys: KeyPair) -> None:
    assert refusal(signed(keys), {"ci": "garbage"}).reason == "bad_signature"


# --- canonical JSON (OPA's hashing of data.json, data.yaml and .manifest) ---------------------


def test_json_hash_ignores_key_order_and_whitespace() -> None:
    a = file_digest("x/data.json", b'{"b": 1, "a": {"d": [1, 2], "c": null}}')
    b = file_digest("x/data.json", b'\n{ "a" : { "c" : null , "d" : [ 1 , 2 ] } ,\n "b" : 1 }\n')
    assert a == b == hashlib.sha256(b'{"a":{"c":null,"d":[1,2]},"b":1}').hexdigest()


def test_canonical_form_is_gos() -> None:
    assert canonical_json("data.json", b'{"h": "<a href=\'x\'>&amp;</a>"}') == (
        b'{"h":"<a href=\'x\'>&amp;</a>"}'
    ), "no HTML escaping"
    assert canonical_json("data.json", '{"é": "żółw ✓ \\u00e9"}'.encode()) == (
        '{"é":"żółw ✓ é"}'.encode()
    ), "UTF-8 as is"
    assert canonical_json("data.json", b'["\\u0001\\n\\t\\"\\\\", "\\u2028"]') == (
        b'["\\u0001\\n\\t\\"\\\\","\\u2028"]'
    ), "control characters and U+2028 escaped as Go does"
    assert canonical_json("data.json", b"[1.0, 1e3, -0, 12345678901234567890, 0.10]") == (
        b"[1.0,1e3,-0,12345678901234567890,0.10]"
    ), "numbers as written (OPA decodes with UseNumber)"
    assert canonical_json("data.json", b'"\\ud800"') == '"\ufffd"'.encode(), "lone surrogate"
    assert canonical_json("data.json", b'\xef\xbb\xbf{"a": true}') == b'{"a":true}', "BOM"


def test_yaml_and_manifest_are_structured_other_files_are_bytes() -> None:
    yaml_digest = file_digest("a/data.yaml", b"b: [1, 2.5, 1.0]\na: {y: yes, t: 2026-01-01}\n")
    canonical = b'{"a":{"t":"2026-01-01","y":true},"b":[1,2.5,1]}'
    assert yaml_digest == hashlib.sha256(canonical).hexdigest()
    assert file_digest(".manifest", b'{"roots": [""], "revision": "x"}') == (
        hashlib.sha256(b'{"revision":"x","roots":[""]}').hexdigest()
    )
    for name in ("a/p.rego", "a/other.json", "a/data.yml", "README"):
        assert file_digest(name, b'{"b": 1}') == hashlib.sha256(b'{"b": 1}').hexdigest()


def test_invalid_structured_file() -> None:
    with pytest.raises(BundleFormatError, match=r"^x/data\.json is not valid data"):
        file_digest("x/data.json", b"{: [")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values, st.sampled_from([None, 1, 2]))
def test_canonical_form_is_stable_under_reformatting(value: object, indent: int | None) -> None:
    compact = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    reformatted = json.dumps(value, indent=indent, ensure_ascii=True)
    assert canonical_json("data.json", reformatted.encode()) == canonical_json(
        "data.json", compact.encode()
    )
    assert json.loads(canonical_json("data.json", reformatted.encode())) == value


def test_bundle_digest() -> None:
    assert bundle_digest(b"abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()
