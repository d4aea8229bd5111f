"""Bundle archives from bytes: every bad archive is a BundleFormatError naming the culprit."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.bundles import BundleFormatError, read_archive, source_from_files, write_archive
from pdp.bundles.archive import entry_name, module_package, module_rules

REGO = b"package authz\nimport rego.v1\nallow := true\n"


def tar_bytes(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    """A .tar.gz of (name, content) files and ready-made TarInfo entries (links, devices)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
                continue
            name, content = entry
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def manifest(**fields: object) -> bytes:
    return json.dumps(fields).encode()


# --- reading ----------------------------------------------------------------------------------


def test_reads_every_regular_file_with_opa_build_names() -> None:
    data = tar_bytes(
        [
            ("/.manifest", manifest(revision="r1", roots=["authz"])),
            ("/authz/p.rego", REGO),
            ("./authz/data.json", b"{}"),
            ("/README.md", b"docs"),
        ]
    )
    files = read_archive(data)
    assert files == {
        ".manifest": manifest(revision="r1", roots=["authz"]),
        "authz/p.rego": REGO,
        "authz/data.json": b"{}",
        "README.md": b"docs",
    }


def test_directories_are_skipped() -> None:
    assert read_archive(tar_bytes([special("/authz", tarfile.DIRTYPE), ("/a.rego", REGO)])) == {
        "a.rego": REGO
    }


def test_not_gzip() -> None:
    with pytest.raises(BundleFormatError, match="not a gzip file"):
        read_archive(b"PK\x03\x04 a zip file")


def test_gzip_of_something_else() -> None:
    with pytest.raises(BundleFormatError, match="corrupt archive"):
        read_archive(gzip.compress(b"plain text, not a tar" * 40))


@pytest.mark.parametrize("keep", [10, 60, 200, -8])
def test_truncated(keep: int) -> None:
    data = tar_bytes([("/p.rego", REGO * 300), ("/data.json", b'{"a": 1}')])
    with pytest.raises(BundleFormatError, match=r"truncated|corrupt"):
        read_archive(data[:keep])


def test_bad_gzip_checksum() -> None:
    data = bytearray(tar_bytes([("/p.rego", REGO)]))
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    with pytest.raises(BundleFormatError, match="corrupt"):
        read_archive(bytes(data))


@pytest.mark.parametrize(
    "name", ["../evil.rego", "/../evil.rego", "a/../../evil.rego", "//etc/passwd", "a\\..\\b"]
)
def test_escaping_names(name: str) -> None:
    with pytest.raises(BundleFormatError, match="escapes the bundle root") as caught:
        read_archive(tar_bytes([(name, REGO)]))
    assert repr(name) in str(caught.value)


@pytest.mark.parametrize(
    ("entry", "what"),
    [
        (special("/p.rego", tarfile.SYMTYPE, "/etc/passwd"), "symlink"),
        (special("/p.rego", tarfile.LNKTYPE, "other.rego"), "hardlink"),
        (special("/dev/x", tarfile.CHRTYPE), "character device"),
        (special("/dev/y", tarfile.BLKTYPE), "block device"),
        (special("/fifo", tarfile.FIFOTYPE), "fifo"),
    ],
)
def test_links_and_devices(entry: tarfile.TarInfo, what: str) -> None:
    with pytest.raises(BundleFormatError, match="link or device") as caught:
        read_archive(tar_bytes([("/a.rego", REGO), entry]))
    assert repr(entry.name) in str(caught.value), what


def test_duplicate_entries() -> None:
    with pytest.raises(BundleFormatError, match=r"'a/p\.rego' appears twice"):
        read_archive(tar_bytes([("/a/p.rego", REGO), ("a/./p.rego", REGO)]))


def test_declared_size_over_the_limit_names_the_entry() -> None:
    data = tar_bytes([("/small.rego", REGO), ("/big/data.json", b"[" + b"0," * 5000 + b"0]")])
    with pytest.raises(BundleFormatError, match=r"exceeds 4096 bytes at entry '/big/data\.json'"):
        read_archive(data, max_bytes=4096)


def test_header_bomb_is_capped() -> None:
    """Thousands of empty files: no content at all, but the tar stream itself is huge."""
    data = tar_bytes([(f"/f{i}.rego", b"") for i in range(3000)])
    assert len(data) < 100_000
    with pytest.raises(BundleFormatError, match="decompressed archive is larger than 1049576"):
        read_archive(data, max_bytes=1000)


# --- writing ----------------------------------------------------------------------------------


def test_write_is_deterministic_and_opa_shaped() -> None:
    files = {"b/p.rego": REGO, ".manifest": manifest(revision="r"), "data.json": b"{}"}
    data = write_archive(files)
    assert data == write_archive(dict(reversed(files.items())))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["/.manifest", "/b/p.rego", "/data.json"]
    assert {(m.mtime, m.uid, m.gid, m.mode, m.type) for m in members} == {
        (0, 0, 0, 0o644, tarfile.REGTYPE)
    }
    assert read_archive(data) == files


def test_write_refuses_paths_that_are_not_bundle_paths() -> None:
    with pytest.raises(BundleFormatError, match="escapes"):
        write_archive({"../x.rego": REGO})
    with pytest.raises(BundleFormatError, match="not a normalised"):
        write_archive({"/x.rego": REGO})


# --- names ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_entry_names_never_escape(raw: str) -> None:
    try:
        name = entry_name(raw)
    except BundleFormatError:
        return
    parts = name.split("/")
    assert not name.startswith("/") and ".." not in parts and "" not in parts
    assert "\\" not in name and ":" not in parts[0]


_names = st.lists(
    st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=30)
    | st.sampled_from(["..", "/..", "../a", "/", "./", "a/../..", "/.manifest", "C:/x"]),
    min_size=1,
    max_size=5,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_names)
def test_arbitrary_member_names_never_escape(names: list[str]) -> None:
    try:
        data = tar_bytes([(name, REGO) for name in names])
    except (ValueError, UnicodeError):
        return  # tarfile itself cannot write such a name
    try:
        files = read_archive(data)
    except BundleFormatError:
        return
    for name in files:
        assert not name.startswith("/") and ".." not in name.split("/")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_fail_only_with_bundle_format_error(data: bytes) -> None:
    for candidate in (data, b"\x1f\x8b" + data, gzip.compress(data)):
        with contextlib.suppress(BundleFormatError):
            read_archive(candidate, max_bytes=100_000)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=10_000))
def test_corrupted_real_archives_fail_only_with_bundle_format_error(
    noise: bytes, offset: int
) -> None:
    data = bytearray(tar_bytes([("/authz/p.rego", REGO), ("/data.json", b'{"x": [1, 2]}')]))
    start = offset % len(data)
    data[start : start + len(noise)] = noise
    with contextlib.suppress(BundleFormatError):
        read_archive(bytes(data), max_bytes=100_000)


# --- assembling a policy source ---------------------------------------------------------------


def test_source_from_files() -> None:
    files = {
        ".manifest": manifest(revision="r7", roots=["authz", "roles/"], metadata={"by": "ci"}),
        "authz/p.rego": REGO,
        "authz/p_test.rego": b"package authz_test\n",
        "authz/data.yaml": b"limits: {max: 3}\nwhen: 2026-01-01\n",
        "data.json": b'{"roles": {"viewer": {}}}',
        "README.md": b"ignored",
    }
    files[".manifest"] = manifest(revision="r7", roots=["authz", "roles/", "authz_test"])
    source = source_from_files(files, include_tests=False)
    assert source.revision == "r7" and source.roots == ("authz", "roles", "authz_test")
    assert list(source.modules) == ["authz/p.rego"]
    # YAML timestamps stay strings, as OPA reads them: the engine only takes JSON values.
    assert source.data == {
        "authz": {"limits": {"max": 3}, "when": "2026-01-01"},
        "roles": {"viewer": {}},
    }
    assert set(source_from_files(files).modules) == {"authz/p.rego", "authz/p_test.rego"}


def test_no_manifest() -> None:
    source = source_from_files({"p.rego": REGO})
    assert source.roots == ("",) and source.revision.startswith("dev-")
    assert source.revision == source_from_files({"p.rego": REGO}).revision
    assert source.revision != source_from_files({"p.rego": REGO + b"\n"}).revision
    with pytest.raises(BundleFormatError, match=r"\.manifest is missing"):
        source_from_files({"p.rego": REGO}, require_manifest=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{nope", r"\.manifest is not valid JSON"),
        (b"[]", r"\.manifest must be a JSON object"),
        (manifest(revision=7), "revision must be a string"),
        (manifest(roots="authz"), "roots must be a list of strings"),
        (manifest(roots=[1]), "roots must be a list of strings"),
        (manifest(metadata=[]), "metadata must be an object"),
        (manifest(roots=["a", "a/b"]), "roots 'a' and 'a/b' overlap"),
        (manifest(roots=["a/b/", "/a"]), "roots 'a/b' and 'a' overlap"),
        (manifest(roots=["x", ""]), "roots 'x' and '' overlap"),
        (manifest(roots=["x", "x"]), "roots 'x' and 'x' overlap"),
    ],
)
def test_invalid_manifest(content: bytes, message: str) -> None:
    with pytest.raises(BundleFormatError, match=message):
        source_from_files({".manifest": content})


def test_sibling_roots_with_a_common_prefix_do_not_overlap() -> None:
    source = source_from_files(
        {".manifest": manifest(roots=["authz", "authz_extra", "a/b", "a/c"])}
    )
    assert source.roots == ("authz", "authz_extra", "a/b", "a/c")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"other/p.rego": b"package other\n"}, r"other/p\.rego: package data\.other lies outside"),
        ({"p.rego": b"# c\npackage authz.x\n"}, None),
        ({"p.rego": b"package a\n"}, r"package data\.a lies outside"),  # above a root
        ({"other/data.json": b"{}"}, r"other/data\.json: data\.other lies outside"),
        ({"data.json": b'{"authz": {"x": {"y": 1}}, "z": 1}'}, r"data\.json: data\.z lies outside"),
        ({"data.json": b'{"authz": {"x": 1}}'}, None),
        ({"a/data.json": b'{"authz": 1}'}, r"a/data\.json: data\.a\.authz lies outside"),
        ({"a/data.json": b"[1]"}, r"data\.a lies outside"),  # not an object above a root
    ],
)
def test_everything_lies_under_the_roots(files: dict[str, bytes], message: str | None) -> None:
    files = {".manifest": manifest(roots=["authz", "a/authz/b"]), **files}
    if message is None:
        source_from_files(files)
        return
    with pytest.raises(BundleFormatError, match=message):
        source_from_files(files)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("x/data.json", b"{: [\n"),
        ("x/data.json", b'{"a": NaN}'),
        ("x/data.yaml", b"a: [\n"),
        ("x/data.yaml", b"a: !!binary aGVsbG8=\n"),
        ("x/data.yml", b"{1: one}\n"),
        ("x/data.yaml", b"a: !!set {b}\n"),
        ("x/data.json", b"[" * 100_000),
    ],
)
def test_invalid_data(name: str, content: bytes) -> None:
    with pytest.raises(BundleFormatError, match=rf"^{name} is not valid data"):
        source_from_files({name: content})


def test_conflicting_data() -> None:
    files = {"data.json": b'{"a": {"b": 1}}', "a/b/data.json": b"{}"}
    with pytest.raises(
        BundleFormatError, match=r"^data\.json conflicts with existing data at data\.a\.b"
    ):
        source_from_files(files)


def test_rego_must_be_utf8_and_declare_a_package() -> None:
    with pytest.raises(BundleFormatError, match=r"p\.rego is not UTF-8"):
        source_from_files({"p.rego": b"package a\n\xff"})
    with pytest.raises(BundleFormatError, match=r"p\.rego: does not start with a package"):
        source_from_files({"p.rego": b"# only a comment\nallow := true\n"})


@pytest.mark.parametrize(
    ("text", "package"),
    [
        ("package authz", ("authz",)),
        ("# header\n\n  package a.b.c # trailing\n", ("a", "b", "c")),
        ('package a["b-c"].d', ("a", "b-c", "d")),
        ('package a["b c"]', ("a", "b c")),
    ],
)
def test_module_package(text: str, package: tuple[str, ...]) -> None:
    assert module_package("p.rego", text) == package


def test_module_rules() -> None:
    text = (
        "package authz\nimport rego.v1\n\ndefault allow := false\nallow if {\n  x := 1\n}\n"
        "reasons contains r if { r := 1 }\nf(x) := x\nobj[k] := v if { some k, v in {} }\n"
        "a.b.c := 1\ntest_ok if true\n"
    )
    assert module_rules(text) == ["allow", "reasons", "obj", "a.b.c", "test_ok"]
