"""Loading policy sources from directories and OPA bundle tarballs, and refusing bad ones."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.bundles import BundleFormatError, load_policy_source

REGO = b"package authz\nimport rego.v1\nallow := true\n"


def _tar(path: Path, entries: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "authz").mkdir()
    (tmp_path / "authz" / "policy.rego").write_bytes(REGO)
    (tmp_path / "authz" / "policy_test.rego").write_bytes(REGO)
    (tmp_path / "authz" / "data.yaml").write_text("limits: {max: 3}\n")
    (tmp_path / "data.json").write_text('{"roles": {"viewer": {}}}')
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.rego").write_bytes(b"junk")
    (tmp_path / "x.cases.json").write_text("{}")
    source = load_policy_source(tmp_path, include_tests=False)
    assert list(source.modules) == ["authz/policy.rego"]
    assert source.data == {"roles": {"viewer": {}}, "authz": {"limits": {"max": 3}}}
    assert source.revision.startswith("dev-") and source.roots == ("",)
    assert "authz/policy_test.rego" in load_policy_source(tmp_path).modules


def test_tarball_with_leading_slashes(tmp_path: Path) -> None:
    manifest = json.dumps({"revision": "r42", "roots": ["authz"], "metadata": {"by": "ci"}})
    bundle = _tar(
        tmp_path / "b.tar.gz",
        {"/.manifest": manifest.encode(), "/authz/p.rego": REGO, "/authz/data.json": b"[1]"},
    )
    source = load_policy_source(bundle)
    assert source.revision == "r42" and source.roots == ("authz",)
    assert source.metadata == {"by": "ci"}
    assert source.modules == {"authz/p.rego": REGO.decode()} and source.data == {"authz": [1]}


def test_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "b.tar.gz"
    path.write_bytes(b"plain text")
    with pytest.raises(BundleFormatError, match="not a gzip file"):
        load_policy_source(path)


def test_truncated(tmp_path: Path) -> None:
    path = _tar(tmp_path / "b.tar.gz", {"p.rego": REGO * 200})
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(BundleFormatError, match=r"b\.tar\.gz"):
        load_policy_source(path)


def test_path_escape(tmp_path: Path) -> None:
    with pytest.raises(BundleFormatError, match="escapes"):
        load_policy_source(_tar(tmp_path / "b.tar.gz", {"../evil.rego": REGO}))


def test_links_refused(tmp_path: Path) -> None:
    path = tmp_path / "b.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("p.rego")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(BundleFormatError, match="link or device"):
        load_policy_source(path)


def test_size_limit(tmp_path: Path) -> None:
    path = _tar(tmp_path / "b.tar.gz", {"data.json": b"[" + b"0," * 5000 + b"0]"})
    with pytest.raises(BundleFormatError, match="exceeds 1000 bytes"):
        load_policy_source(path, max_bytes=1000)


def test_invalid_manifest(tmp_path: Path) -> None:
    with pytest.raises(BundleFormatError, match=r"\.manifest is not valid JSON"):
        load_policy_source(_tar(tmp_path / "b.tar.gz", {"/.manifest": b"{nope"}))


@pytest.mark.parametrize("name", ["x/data.json", "x/data.yaml"])
def test_invalid_data(tmp_path: Path, name: str) -> None:
    with pytest.raises(BundleFormatError, match=name):
        load_policy_source(_tar(tmp_path / "b.tar.gz", {name: b"{: [\n"}))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4))
def test_arbitrary_names_never_escape(
    tmp_path_factory: pytest.TempPathFactory, names: list[str]
) -> None:
    path = tmp_path_factory.mktemp("h") / "b.tar.gz"
    try:
        _tar(path, {f"{name}.rego": REGO for name in names})
    except (ValueError, UnicodeError):
        return
    try:
        source = load_policy_source(path)
    except BundleFormatError:
        return
    for module in source.modules:
        assert not module.startswith("/") and ".." not in module.split("/")


def test_directory_manifest_roots_are_enforced(tmp_path: Path) -> None:
    (tmp_path / ".manifest").write_text(json.dumps({"revision": "r", "roots": ["authz"]}))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "p.rego").write_bytes(b"package other\n")
    with pytest.raises(BundleFormatError) as caught:
        load_policy_source(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path}: other/p.rego: package data.other lies")


def test_errors_name_the_bundle_file_then_the_entry(tmp_path: Path) -> None:
    path = _tar(tmp_path / "named.tar.gz", {"/.manifest": b"[]"})
    with pytest.raises(BundleFormatError, match=r"^named\.tar\.gz: \.manifest must be"):
        load_policy_source(path)
    with pytest.raises(BundleFormatError, match="no such directory or bundle file"):
        load_policy_source(tmp_path / "missing.tar.gz")
