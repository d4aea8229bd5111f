"""The decision spool: lines come back once each, in the order written, across a process's
death, and a live process's file is never taken."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.decision_spool import DecisionSpool
from tests.support.processes import REPO


def _drain(spool: DecisionSpool, max_lines: int = 7) -> list[bytes]:
    lines: list[bytes] = []
    while (pending := spool.read(max_lines)) is not None:
        lines += pending.lines
        spool.acknowledge(pending)
    return lines


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 12), st.integers(0, 3)), max_size=30))
def test_lines_come_back_once_each_in_order(tmp_path_factory, steps):
    """Batches appended and partly drained in any interleaving: every line once, in order."""
    spool = DecisionSpool(tmp_path_factory.mktemp("spool"), max_bytes=1 << 20)
    written: list[bytes] = []
    read: list[bytes] = []
    for batch, reads in steps:
        lines = [f'{{"n":{len(written) + i}}}\n'.encode() for i in range(batch)]
        assert spool.append(lines) == batch
        written += lines
        for _ in range(reads):
            if (pending := spool.read(5)) is not None:
                read += pending.lines
                spool.acknowledge(pending)
    read += _drain(spool)
    assert read == written and spool.pending_bytes == 0
    spool.close()


_CHILD = """
import sys
from pathlib import Path
from pdp.decision_spool import DecisionSpool
spool = DecisionSpool(Path(sys.argv[1]), max_bytes=1 << 20)
spool.append([b'{"n":%d}\\n' % i for i in range(int(sys.argv[2]))])
print("spooled", flush=True)
sys.stdin.read()  # holds its lock until told to die
"""


def test_a_dead_process_spool_is_adopted_and_a_live_one_is_not(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path), "5"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout.readline() == b"spooled\n"
    alive = DecisionSpool(tmp_path, max_bytes=1 << 20)
    assert alive.read(10) is None  # the child's file is locked: in use
    alive.close()
    child.kill()  # no clean close: its file stays, unlocked
    child.wait()
    adopter = DecisionSpool(tmp_path, max_bytes=1 << 20)
    assert adopter.append([b'{"n":5}\n']) == 1
    assert [json.loads(line)["n"] for line in _drain(adopter)] == [0, 1, 2, 3, 4, 5]
    adopter.close()
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []
