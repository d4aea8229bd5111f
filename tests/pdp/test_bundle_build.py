"""Building bundles from a policy directory: file selection, manifest defaults, round trips."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pdp.bundles import (
    BundleFormatError,
    load_policy_source,
    read_archive,
    source_from_files,
    verify_files,
)
from pdp.bundles.build import SigningKey, build_bundle, default_revision
from pdp.engine import Evaluator, compile_policy
from pdp.policy import SMOKE_INPUT
from tests.pdp.pdp_env import POLICIES

REGO = "package {package}\nimport rego.v1\nallow := true\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_default_policies_round_trip_and_compile() -> None:
    """A built bundle reads back to the directory's own source and serves the same decision."""
    data = build_bundle(POLICIES, revision="r1")
    assert data == build_bundle(POLICIES, revision="r1"), "builds are reproducible"
    source = source_from_files(read_archive(data), include_tests=False, require_manifest=True)
    from_directory = load_policy_source(POLICIES, include_tests=False)
    assert source.modules == from_directory.modules and source.data == from_directory.data
    assert source.revision == "r1"
    assert source.roots == (
        "authz",
        "authz_test",
        "cross_tenant_grants",
        "forbids",
        "networks",
        "role_grants",
        "roles",
    )
    compiled = compile_policy(source, ["data.authz.decision"], smoke_inputs=[SMOKE_INPUT])
    decision = Evaluator(compiled).evaluate("data.authz.decision", SMOKE_INPUT)
    assert decision == Evaluator(
        compile_policy(from_directory, ["data.authz.decision"], smoke_inputs=[SMOKE_INPUT])
    ).evaluate("data.authz.decision", SMOKE_INPUT)
    assert isinstance(decision["allow"], bool)


def test_file_selection(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "authz/p.rego": REGO.format(package="authz"),
            "authz/p_test.rego": REGO.format(package="authz_test"),
            "authz/data.yaml": "limits: {max: 3}\n",
            "authz/rules.cases.yaml": "cases: []\n",
            "authz/notes.md": "not policy",
            ".hidden/x.rego": "not even rego",
            ".gitignore": "*",
            "data.json": '{"roles": {}}',
        },
    )
    files = read_archive(build_bundle(tmp_path, revision="r"))
    assert sorted(files) == [".manifest", "authz/data.yaml", "authz/p.rego", "data.json"]
    with_tests = read_archive(build_bundle(tmp_path, revision="r", include_tests=True))
    assert "authz/p_test.rego" in with_tests
    manifest = json.loads(with_tests[".manifest"])
    assert manifest == {"revision": "r", "roots": ["authz", "authz_test", "roles"]}


def test_roots_from_flags_are_checked(tmp_path: Path) -> None:
    write(tmp_path, {"authz/p.rego": REGO.format(package="authz.x"), "data.json": '{"a": 1}'})
    files = read_archive(build_bundle(tmp_path, revision="r", roots=("authz/x", "a/")))
    assert json.loads(files[".manifest"])["roots"] == ["authz/x", "a"]
    with pytest.raises(BundleFormatError, match=r"roots 'authz' and 'authz/x' overlap"):
        build_bundle(tmp_path, revision="r", roots=("authz", "authz/x", "a"))
    with pytest.raises(BundleFormatError, match=r"data\.json: data\.a lies outside"):
        build_bundle(tmp_path, revision="r", roots=("authz",))


def test_no_packages_or_data_means_the_whole_tree(tmp_path: Path) -> None:
    write(tmp_path, {"data.json": "{}"})
    assert json.loads(read_archive(build_bundle(tmp_path, revision="r"))[".manifest"]) == {
        "revision": "r",
        "roots": [""],
    }


def test_a_manifest_in_the_directory_gives_defaults(tmp_path: Path) -> None:
    manifest = {"revision": "from-file", "roots": ["authz"], "metadata": {"team": "iam"}}
    write(
        tmp_path, {".manifest": json.dumps(manifest), "authz/p.rego": REGO.format(package="authz")}
    )
    assert json.loads(read_archive(build_bundle(tmp_path))[".manifest"]) == manifest
    overridden = json.loads(read_archive(build_bundle(tmp_path, revision="cli"))[".manifest"])
    assert overridden == {**manifest, "revision": "cli"}


def test_revision_defaults_to_the_git_commit(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    write(tmp_path, {"policy/authz/p.rego": REGO.format(package="authz")})
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.test"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "policy"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    built = read_archive(build_bundle(tmp_path / "policy"))
    assert json.loads(built[".manifest"])["revision"] == head


def test_revision_outside_git_is_a_utc_timestamp(tmp_path: Path) -> None:
    assert re.fullmatch(r"\d{8}T\d{6}Z", default_revision(tmp_path))


def test_signed_build_verifies(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    data = build_bundle(POLICIES, revision="r", signing=SigningKey(pem, "ci", "ES256"))
    status = verify_files(read_archive(data), {"ci": public.decode()})
    assert (status.status, status.key_id) == ("verified", "ci")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no .rego or data files"),
        ({"p.rego": "allow := true\n"}, r"p\.rego: does not start with a package"),
        ({"x/data.json": "{nope"}, r"x/data\.json is not valid data"),
        ({".manifest": "[]", "p.rego": REGO.format(package="a")}, "must be a JSON object"),
    ],
)
def test_bad_directories(tmp_path: Path, files: dict[str, str], message: str) -> None:
    write(tmp_path, files)
    with pytest.raises(BundleFormatError, match=message):
        build_bundle(tmp_path, revision="r")


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleFormatError, match="not a directory"):
        build_bundle(tmp_path / "missing")
