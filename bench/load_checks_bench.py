"""What the two serving checks cost: named-network matching and signature verification on load.

- Matching a client IP against the default policy's `data.networks` (`matching_networks`,
  what `ActivePolicy.networks_containing` runs the first time it sees an IP; repeats are a
  dict lookup), for an IPv4, an IPv4-mapped IPv6 and a plain IPv6 address.
- `require_trusted` on the default policy bundle signed with RS256 (2048) and ES256, what a
  replica with `PDP_BUNDLE_VERIFICATION_KEYS` adds to every bundle load.

    .venv/bin/python bench/load_checks_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pdp.bundles.archive import read_archive, write_archive  # noqa: E402
from pdp.bundles.loader import read_directory  # noqa: E402
from pdp.bundles.signing import require_trusted, sign_files  # noqa: E402
from pdp.policy import matching_networks, parse_networks  # noqa: E402
from tests.pdp.test_bundle_signing import key_pair  # noqa: E402

POLICIES = REPO / "policies"
MATCHES = 20_000
VERIFICATIONS = 50


def median_per_call(rounds: int, calls: int, work: Callable[[], object]) -> float:
    """Median over `rounds` of the mean seconds per call of `work`."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            work()
        samples.append((time.perf_counter() - started) / calls)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    print(f"python {platform.python_version()}, {platform.machine()}, rounds={rounds}")

    networks = parse_networks(json.loads((POLICIES / "data.json").read_text()))
    print(f"named networks: {len(networks)} CIDRs")
    for ip in ("10.1.2.3", "::ffff:10.1.2.3", "2001:db8:1::9"):
        seconds = median_per_call(rounds, MATCHES, partial(matching_networks, networks, ip))
        print(f"  match {ip:<16} {seconds * 1e6:6.1f} us (first sight of the IP; then cached)")

    files = read_directory(POLICIES, include_tests=True)
    for algorithm, key in (
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
    ):
        pair = key_pair(key, algorithm)
        signature = sign_files(files, pair.private_pem, "bench", algorithm)
        loaded = read_archive(write_archive({**files, ".signatures.json": signature}))
        keys = {"bench": pair.public_pem}
        seconds = median_per_call(
            rounds, VERIFICATIONS, partial(require_trusted, loaded, keys, "bench")
        )
        print(f"  verify on load, {algorithm}, {len(loaded)} files: {seconds * 1e3:6.2f} ms")


if __name__ == "__main__":
    main()
