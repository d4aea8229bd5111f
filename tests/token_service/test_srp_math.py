"""token_service.srp against the clients' own SRP math: pycognito's helpers and, on Node,
amazon-cognito-identity-js's AuthenticationHelper and DateHelper.

Every vector here is computed by the client library, not by the module under test, so a
disagreement in padding, hashing, key derivation or timestamp spelling fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycognito import aws_srp
from pycognito.aws_srp import AWSSRP

from tests.support.cognito_js import run_node
from token_service import srp

POOL_ID = "us-east-1_Zx9Yw8Vu7"
# pycognito's AWSSRP never calls its boto3 client in the methods used here.
NO_CLIENT = object()
SLOW = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def pycognito_verifier(pool_id: str, user_id: str, password: str, salt_hex: str) -> int:
    """v = g^x mod N with x computed by pycognito's own helpers (as its client does)."""
    inner = aws_srp.hash_sha256(f"{pool_id.split('_')[1]}{user_id}:{password}".encode())
    x = aws_srp.hex_to_long(aws_srp.hex_hash(aws_srp.pad_hex(salt_hex) + inner))
    return pow(aws_srp.hex_to_long(aws_srp.G_HEX), x, aws_srp.hex_to_long(aws_srp.N_HEX))


def client_signature(
    client: AWSSRP, user_id: str, password: str, salt: str, big_b: int, block: bytes, ts: str
) -> str:
    """PASSWORD_CLAIM_SIGNATURE computed with pycognito's key derivation."""
    hkdf = client.get_password_authentication_key(user_id, password, big_b, salt)
    message = POOL_ID.split("_")[1].encode() + user_id.encode() + block + ts.encode()
    return base64.b64encode(hmac.new(hkdf, message, hashlib.sha256).digest()).decode()


def test_group_and_multiplier_are_the_clients() -> None:
    client = AWSSRP("u", "p", POOL_ID, "client", client=NO_CLIENT)
    assert client.big_n == srp.N
    assert client.val_g == srp.G
    assert client.val_k == srp.K_MULTIPLIER


@given(st.integers(min_value=1, max_value=1 << 3100))
def test_pad_hex_matches_pycognito(value: int) -> None:
    assert srp.pad_hex(value) == aws_srp.pad_hex(value)


def test_pad_hex_prefixes_00_when_the_top_bit_is_set() -> None:
    assert srp.pad_hex(0x80) == "0080"
    assert srp.pad_hex(0x7F) == "7f"
    assert srp.pad_hex(0xABC) == "0abc"


@SLOW
@given(
    user_id=st.text(min_size=1, max_size=40),
    password=st.text(min_size=0, max_size=60),
    salt=st.binary(min_size=16, max_size=16),
)
def test_verifier_matches_pycognito_math(user_id: str, password: str, salt: bytes) -> None:
    derived = srp.derive_verifier(POOL_ID, user_id, password, salt)
    assert derived.salt == aws_srp.pad_hex(int.from_bytes(salt))
    assert int(derived.verifier, 16) == pycognito_verifier(POOL_ID, user_id, password, derived.salt)


@SLOW
@given(password=st.text(max_size=60), other=st.text(max_size=60), block=st.binary(max_size=64))
def test_pycognito_proof_verifies_only_for_the_password_of_the_verifier(
    password: str, other: str, block: bytes
) -> None:
    derived = srp.derive_verifier(POOL_ID, "alice", password)
    verifier = int(derived.verifier, 16)
    key = srp.server_key(verifier)
    timestamp = srp.format_timestamp(datetime(2026, 3, 7, 9, 5, 3, tzinfo=UTC))
    client = AWSSRP("alice", password, POOL_ID, "client", client=NO_CLIENT)
    session_key = srp.session_key(client.large_a_value, key, verifier)
    assert session_key is not None
    expected = srp.claim_signature(session_key, POOL_ID, "alice", block, timestamp)
    right = client_signature(client, "alice", password, derived.salt, key.B, block, timestamp)
    assert expected == right
    if other != password:
        wrong = client_signature(client, "alice", other, derived.salt, key.B, block, timestamp)
        assert expected != wrong


def test_process_challenge_of_pycognito_verifies() -> None:
    """pycognito's whole PASSWORD_VERIFIER answer, its timestamp included."""
    derived = srp.derive_verifier(POOL_ID, "bob", "s3cret!")
    verifier = int(derived.verifier, 16)
    key = srp.server_key(verifier)
    block = b"\x00\x01opaque\xff"
    client = AWSSRP("bob", "s3cret!", POOL_ID, "client", client=NO_CLIENT)
    answer = client.process_challenge(
        {
            "USER_ID_FOR_SRP": "bob",
            "SALT": derived.salt,
            "SRP_B": f"{key.B:x}",
            "SECRET_BLOCK": base64.b64encode(block).decode(),
        },
        {"USERNAME": "bob"},
    )
    moment = srp.parse_timestamp(answer["TIMESTAMP"])
    assert moment is not None
    assert srp.format_timestamp(moment) == answer["TIMESTAMP"]
    session_key = srp.session_key(client.large_a_value, key, verifier)
    assert session_key is not None
    signature = srp.claim_signature(session_key, POOL_ID, "bob", block, answer["TIMESTAMP"])
    assert signature == answer["PASSWORD_CLAIM_SIGNATURE"]


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31)))
def test_timestamp_is_spelled_as_pycognito_spells_it(moment: datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    spelled = srp.format_timestamp(moment)
    assert spelled == AWSSRP.get_cognito_formatted_timestamp(moment)
    assert srp.parse_timestamp(spelled) == moment


NEAR_TIMESTAMPS = st.from_regex(
    r"(Mon|Tue|Sun|Xyz) (Jan|Feb|Dec|Foo) [0-9]{1,3} [0-9]{1,2}:[0-9]{2}:[0-9]{2} (UTC|GMT) [0-9]{4}",
    fullmatch=True,
)


@given(NEAR_TIMESTAMPS | st.text(max_size=40))
def test_what_parses_is_the_moment_the_text_names(text: str) -> None:
    moment = srp.parse_timestamp(text)
    if moment is None:
        return
    named = text.split(" ")
    canonical = srp.format_timestamp(moment).split(" ")
    assert canonical[1] == named[1]
    assert int(canonical[2]) == int(named[2])
    assert canonical[3:5] == named[3:5]
    assert int(canonical[5]) == int(named[5])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Tue Dec 1 09:05:03 GMT 2026",
        "Tue Dec 1 9:05:03 UTC 2026",
        "Tue Dec 32 09:05:03 UTC 2026",
        "Tue Feb 30 09:05:03 UTC 2026",
        "Tue Dec 1 24:05:03 UTC 2026",
        "tue dec 1 09:05:03 UTC 2026",
        "Tue Dec 1 09:05:03 UTC 2026 ",
        "Tuesday December 1 09:05:03 UTC 2026",
        "2026-12-01T09:05:03Z",
    ],
)
def test_malformed_timestamps_do_not_parse(text: str) -> None:
    assert srp.parse_timestamp(text) is None


def test_zero_padded_day_parses_but_is_not_the_canonical_spelling() -> None:
    moment = srp.parse_timestamp("Tue Dec 01 09:05:03 UTC 2026")
    assert moment == datetime(2026, 12, 1, 9, 5, 3, tzinfo=UTC)
    assert srp.format_timestamp(moment) == "Tue Dec 1 09:05:03 UTC 2026"


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("ff", 255), ("00FF", 255), ("1" * srp.MAX_A_HEX_DIGITS, None)],
)
def test_parse_hex(text: str, value: int | None) -> None:
    expected = value if value is not None else int(text, 16)
    assert srp.parse_hex(text) == expected


@pytest.mark.parametrize(
    "text", ["", "0x10", "-1", " 1", "1 ", "1_0", "g", "\uff11", "1" * (srp.MAX_A_HEX_DIGITS + 1)]
)
def test_parse_hex_refuses_what_int_would_accept(text: str) -> None:
    assert srp.parse_hex(text) is None


@pytest.mark.parametrize("a", [0, srp.N, 2 * srp.N])
def test_a_that_is_zero_mod_n_is_invalid(a: int) -> None:
    assert not srp.valid_a(a)


def test_pool_name_is_the_part_after_the_underscore() -> None:
    assert srp.pool_name("eu-west-1_AbC_d") == "AbC_d"


JS_HELPER = """
const { AuthenticationHelper, DateHelper } = require("amazon-cognito-identity-js");
const BigInteger = require("amazon-cognito-identity-js/lib/BigInteger").default;
const helper = new AuthenticationHelper(INPUT.poolName);
const a = await new Promise((ok, no) => helper.getLargeAValue((e, v) => (e ? no(e) : ok(v))));
helper.largeAValue = a;
done({
  A: a.toString(16),
  k: helper.k.toString(16),
  now: new DateHelper().getNowString(),
  pads: INPUT.pads.map((h) => helper.padHex(new BigInteger(h, 16))),
});
"""

JS_KEY = """
const { AuthenticationHelper } = require("amazon-cognito-identity-js");
const BigInteger = require("amazon-cognito-identity-js/lib/BigInteger").default;
const helper = new AuthenticationHelper(INPUT.poolName);
helper.smallAValue = new BigInteger(INPUT.a, 16);
helper.largeAValue = undefined;
await new Promise((ok, no) => helper.getLargeAValue((e, v) => (e ? no(e) : ok(v))));
const hkdf = await new Promise((ok, no) =>
  helper.getPasswordAuthenticationKey(
    INPUT.userId, INPUT.password, new BigInteger(INPUT.B, 16), new BigInteger(INPUT.salt, 16),
    (e, v) => (e ? no(e) : ok(v)),
  ),
);
done({ A: helper.largeAValue.toString(16), hkdf: Buffer.from(hkdf).toString("hex") });
"""


def test_amazon_cognito_identity_js_derives_the_same_key() -> None:
    """The JS library's own A, k, padHex, key derivation and timestamp agree with ours."""
    pads = ["80", "7f", "abc", f"{srp.N:x}"]
    first = run_node(
        JS_HELPER,
        {"poolName": srp.pool_name(POOL_ID), "pads": pads},
        packages=["amazon-cognito-identity-js"],
    )
    assert int(first["k"], 16) == srp.K_MULTIPLIER
    assert first["pads"] == [srp.pad_hex(int(h, 16)) for h in pads]
    now = srp.parse_timestamp(first["now"])
    assert now is not None and srp.format_timestamp(now) == first["now"]

    derived = srp.derive_verifier(POOL_ID, "Carol", "pässwörd ✓")
    verifier = int(derived.verifier, 16)
    key = srp.server_key(verifier)
    small_a = "1d" * 64
    second = run_node(
        JS_KEY,
        {
            "poolName": srp.pool_name(POOL_ID),
            "a": small_a,
            "userId": "Carol",
            "password": "pässwörd ✓",
            "B": f"{key.B:x}",
            "salt": derived.salt,
        },
        packages=["amazon-cognito-identity-js"],
    )
    assert int(second["A"], 16) == pow(srp.G, int(small_a, 16), srp.N)
    assert srp.session_key(int(second["A"], 16), key, verifier) == bytes.fromhex(second["hkdf"])
