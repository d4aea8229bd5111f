"""`pdp bundle build|verify|inspect`: exit codes, JSON output, one-line errors."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pdp.bundles import read_archive, write_archive
from pdp.cli import main
from tests.pdp.pdp_env import POLICIES
from tests.support.processes import free_port


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """RSA and EC key pairs as PEM files: rsa.pem/rsa.pub, ec.pem/ec.pub."""
    root = tmp_path_factory.mktemp("keys")
    generated = {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
    }
    paths = {}
    for name, key in generated.items():
        paths[f"{name}.pem"] = root / f"{name}.pem"
        paths[f"{name}.pem"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        paths[f"{name}.pub"] = root / f"{name}.pub"
        paths[f"{name}.pub"].write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return paths


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def failed(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run a command that must fail; its one-line reason (without `error: `)."""
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.removeprefix("error: ").strip()


def build(capsys, keys, tmp_path: Path, alg: str = "RS256") -> Path:
    output = tmp_path / f"bundle-{alg}.tar.gz"
    key = keys["rsa.pem" if alg == "RS256" else "ec.pem"]
    code, out, _ = run(
        capsys,
        "bundle", "build", str(POLICIES), "-o", str(output), "--revision", "r1",
        "--signing-key", str(key), "--key-id", "ci", "--signing-alg", alg,
    )  # fmt: skip
    assert code == 0 and out.startswith(f"built {output}: revision r1, 5 files")
    return output


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_build_inspect_verify(capsys, keys, tmp_path: Path, alg: str) -> None:
    bundle = build(capsys, keys, tmp_path, alg)
    public = str(keys["rsa.pub" if alg == "RS256" else "ec.pub"])

    code, out, _ = run(capsys, "bundle", "inspect", str(bundle), "--json")
    report = json.loads(out)
    assert code == 0 and report["revision"] == "r1"
    assert report["signature"] == {"status": "signed_unverified", "key_id": "ci"}
    assert "data.authz.decision" in report["entrypoints"]
    assert [f["name"] for f in report["files"]] == [
        ".manifest",
        ".signatures.json",
        "authz/conditions.rego",
        "authz/decision.rego",
        "data.json",
    ]
    code, out, _ = run(capsys, "bundle", "inspect", str(bundle))
    assert code == 0 and "signature:   signed_unverified (key ci)" in out
    assert "  data.authz.decision\n" in out

    code, out, _ = run(capsys, "bundle", "verify", str(bundle), "--public-key", public, "--json")
    assert code == 0 and json.loads(out) == {"status": "verified", "key_id": "ci", "files": 4}
    code, out, _ = run(capsys, "bundle", "verify", str(bundle), "--public-key", public)
    assert code == 0 and out == f"verified {bundle}: 4 files, key ci\n"


@pytest.mark.parametrize("name", ["authz/decision.rego", ".manifest", "data.json"])
def test_verify_names_the_tampered_file(capsys, keys, tmp_path: Path, name: str) -> None:
    files = read_archive(build(capsys, keys, tmp_path).read_bytes())
    content = bytearray(files[name])
    content[content.index(b"r")] ^= 0x20  # one byte: r -> R
    files[name] = bytes(content)
    tampered = tmp_path / "tampered.tar.gz"
    tampered.write_bytes(write_archive(files))
    reason = failed(capsys, "bundle", "verify", str(tampered), "--public-key", str(keys["rsa.pub"]))
    assert reason.startswith(f"tampered.tar.gz: file_mismatch: {name}:")


def test_verify_refusals(capsys, keys, tmp_path: Path) -> None:
    bundle = build(capsys, keys, tmp_path)
    rsa_pub, ec_pub = str(keys["rsa.pub"]), str(keys["ec.pub"])
    verify = ("bundle", "verify", str(bundle), "--public-key")
    assert "bad_signature" in failed(capsys, *verify, ec_pub)
    assert "unknown_key_id" in failed(capsys, *verify, rsa_pub, "--key-id", "other")

    unsigned = tmp_path / "unsigned.tar.gz"
    assert run(capsys, "bundle", "build", str(POLICIES), "-o", str(unsigned))[0] == 0
    assert failed(capsys, "bundle", "verify", str(unsigned), "--public-key", rsa_pub).startswith(
        "unsigned.tar.gz: unsigned: "
    )
    assert "not a PEM public key" in failed(capsys, *verify, str(keys["rsa.pem"]))
    assert "No such file" in failed(capsys, *verify, str(tmp_path / "none.pub"))


def test_bad_archives_are_one_line(capsys, keys, tmp_path: Path) -> None:
    linked = tmp_path / "linked.tar.gz"
    with tarfile.open(linked, "w:gz") as tar:
        info = tarfile.TarInfo("/authz/p.rego")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    not_gzip = tmp_path / "plain.tar.gz"
    not_gzip.write_text("hello")
    for path, message in [(linked, "link or device"), (not_gzip, "not a gzip file")]:
        for command in (["inspect"], ["verify", "--public-key", str(keys["rsa.pub"])]):
            reason = failed(capsys, "bundle", command[0], str(path), *command[1:])
            assert reason.startswith(f"{path.name}: ") and message in reason


def test_build_errors(capsys, keys, tmp_path: Path) -> None:
    output = str(tmp_path / "b.tar.gz")
    build_cmd = ("bundle", "build", str(POLICIES), "-o", output)
    assert "go together" in failed(capsys, *build_cmd, "--signing-key", str(keys["rsa.pem"]))
    assert "RS256 needs an RSA key" in failed(
        capsys, *build_cmd, "--signing-key", str(keys["ec.pem"]), "--key-id", "ci"
    )
    assert "not an unencrypted PEM private key" in failed(
        capsys, *build_cmd, "--signing-key", str(keys["ec.pub"]), "--key-id", "ci"
    )
    assert "overlap" in failed(capsys, *build_cmd, "--root", "authz", "--root", "authz/x")
    assert "lies outside" in failed(capsys, *build_cmd, "--root", "authz")
    assert "not a directory" in failed(
        capsys, "bundle", "build", str(tmp_path / "no"), "-o", output
    )
    assert not Path(output).exists(), "nothing half-written"
    unwritable = str(tmp_path / "missing-dir" / "b.tar.gz")
    assert "No such file" in failed(capsys, "bundle", "build", str(POLICIES), "-o", unwritable)


def test_admin_commands_report_an_unreachable_server(capsys, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(b"\x1f\x8b")
    for argv in (["push", str(bundle)], ["list"], ["activate", "r1"], ["rollback"]):
        reason = failed(capsys, "bundle", *argv, "--url", url, "--token", "t")
        assert reason.startswith(f"cannot reach {url}")


@pytest.mark.parametrize(
    "command", ["build", "verify", "inspect", "push", "list", "activate", "rollback", "publish"]
)
def test_help(capsys, command: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bundle", command, "--help"])
    assert exited.value.code == 0
    assert "--json" in capsys.readouterr().out


def test_publish_into_a_store_bootstraps_the_active_bundle(capsys, tmp_path: Path) -> None:
    """What docker-compose's bootstrap runs: idempotent, and it never overrides an activation."""
    from pdp.bundles.store import BundleStore
    from pdp.directory.store import DirectoryStore

    url = f"sqlite:///{tmp_path / 'pdp.db'}"
    first, second = tmp_path / "first.tar.gz", tmp_path / "second.tar.gz"
    for path, revision in ((first, "initial"), (second, "second")):
        assert (
            main(["bundle", "build", str(POLICIES), "-o", str(path), "--revision", revision]) == 0
        )
    publish = ["bundle", "publish", "--database-url", url, "--activate", "if-none", "--json"]
    assert main([*publish, str(first)]) == 0
    assert main([*publish, str(first)]) == 0
    assert main([*publish, str(second)]) == 0
    capsys.readouterr()
    store = BundleStore(DirectoryStore(url).engine)
    assert store.active("main").revision == "initial"
    assert [r.revision for r in store.list("main", limit=10, page_token=None)[0]] == [
        "second",
        "initial",
    ]
    assert main([*publish[:-3], "--activate", "always", str(second)]) == 0
    assert store.active("main").revision == "second"
    capsys.readouterr()
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a bundle")
    reason = failed(capsys, "bundle", "publish", "--database-url", url, str(garbage))
    assert "gzip" in reason
