"""The bundle store on SQLite and PostgreSQL: history, activation, rollback, replicas."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from pdp.bundles.store import BundleStore, NewBundle, activations_table, check_name
from pdp.directory.store import DirectoryStore
from pdp.errors import Conflict, InvalidRequest, NotFound


@pytest.fixture
def engines(database_url: str) -> Iterator[tuple[DirectoryStore, DirectoryStore]]:
    """Two independent connections to one database, as two replicas have."""
    first, second = DirectoryStore(database_url), DirectoryStore(database_url)
    yield first, second
    first.close()
    second.close()


@pytest.fixture
def bundles(engines) -> BundleStore:
    return BundleStore(engines[0].engine)


def bundle(revision: str, content: bytes = b"", name: str = "main") -> NewBundle:
    archive = content or f"archive of {revision}".encode()
    return NewBundle(
        name=name,
        revision=revision,
        digest="sha256:" + hashlib.sha256(archive).hexdigest(),
        archive=archive,
        published_by="ci-client",
        signature_status="verified",
        signature_key_id="k1",
        manifest={"revision": revision, "roots": [""]},
    )


def test_publish_is_idempotent_for_the_same_bytes(bundles: BundleStore) -> None:
    record, created = bundles.add(bundle("r1"))
    assert created
    assert (record.name, record.revision, record.size, record.active) == ("main", "r1", 13, False)
    assert record.published_at.tzinfo is not None
    again, created = bundles.add(bundle("r1"))
    assert not created
    assert again == record
    json = record.to_json()
    assert json["signature"] == {"status": "verified", "key_id": "k1"}
    assert json["published_at"].endswith("Z")


def test_same_revision_other_bytes_conflicts(bundles: BundleStore) -> None:
    bundles.add(bundle("r1"))
    with pytest.raises(Conflict, match="other content"):
        bundles.add(bundle("r1", b"different"))
    assert bundles.archive("main", "r1") == b"archive of r1"


def test_list_newest_first_in_pages(bundles: BundleStore) -> None:
    for index in range(7):
        bundles.add(bundle(f"r{index}"))
    bundles.add(bundle("other", name="second"))
    bundles.activate("main", "r2", "admin")
    for limit in (1, 2, 3, 7, 100):
        seen, token = [], None
        while True:
            items, token = bundles.list("main", limit=limit, page_token=token)
            assert len(items) <= limit
            seen.extend(items)
            if token is None:
                break
        assert [r.revision for r in seen] == [f"r{i}" for i in range(6, -1, -1)]
        assert [r.revision for r in seen if r.active] == ["r2"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"page_token": "abc"}, "page_token"),
        ({"page_token": "-1"}, "page_token"),
        ({"page_token": "9" * 40}, "page_token"),
    ],
)
def test_list_refuses_bad_paging(bundles: BundleStore, kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        bundles.list("main", **kwargs)
    assert info.value.field == field


def test_activate_and_roll_back_through_history(bundles: BundleStore) -> None:
    for revision in ("r1", "r2", "r3"):
        bundles.add(bundle(revision))
    assert bundles.active("main") is None
    with pytest.raises(Conflict):
        bundles.rollback("main", "admin")
    with pytest.raises(NotFound):
        bundles.activate("main", "nope", "admin")
    for revision in ("r1", "r2", "r3"):
        assert bundles.activate("main", revision, "admin").active
    # Activating the active revision again adds nothing to roll back through.
    bundles.activate("main", "r3", "admin")
    active = bundles.active("main")
    assert active is not None
    assert (active.revision, active.digest) == ("r3", bundle("r3").digest)
    assert bundles.rollback("main", "ops").revision == "r2"
    assert bundles.rollback("main", "ops").revision == "r1"
    with pytest.raises(Conflict, match="no earlier activation"):
        bundles.rollback("main", "ops")
    assert bundles.active_record("main").revision == "r1"  # type: ignore[union-attr]
    history, _ = bundles.activations("main")
    assert [(a.revision, a.action, a.activated_by) for a in history] == [
        ("r1", "rollback", "ops"),
        ("r2", "rollback", "ops"),
        ("r3", "activate", "admin"),
        ("r2", "activate", "admin"),
        ("r1", "activate", "admin"),
    ]
    # After a rollback, a new activation can itself be rolled back to where we were.
    bundles.activate("main", "r3", "admin")
    assert bundles.rollback("main", "ops").revision == "r1"


def test_names_are_independent(bundles: BundleStore) -> None:
    bundles.add(bundle("r1"))
    bundles.add(bundle("r1", b"another name, same revision", name="edge"))
    bundles.activate("edge", "r1", "admin")
    assert bundles.active("main") is None
    assert (
        bundles.active_record("edge").digest == bundle("r1", b"another name, same revision").digest
    )  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        bundles.activate("edge", "r2", "admin")


def test_a_second_replica_sees_the_activation(engines) -> None:
    writer, reader = BundleStore(engines[0].engine), BundleStore(engines[1].engine)
    writer.add(bundle("r1"))
    writer.activate("main", "r1", "admin")
    active = reader.active("main")
    assert active is not None and active.revision == "r1"
    assert reader.archive("main", "r1") == b"archive of r1"
    with pytest.raises(NotFound):
        reader.archive("main", "r9")


def test_concurrent_activations_keep_one_rollback_chain(engines) -> None:
    stores = [BundleStore(engines[0].engine), BundleStore(engines[1].engine)]
    for revision in ("a", "b", "c", "d"):
        stores[0].add(bundle(revision))
    errors: list[BaseException] = []

    def work(store: BundleStore, revisions: tuple[str, str]) -> None:
        try:
            for step in range(10):
                store.activate("main", revisions[step % 2], "admin")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(stores[0], ("a", "b"))),
        threading.Thread(target=work, args=(stores[1], ("c", "d"))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engines[0].engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(activations_table))}
    # Serialized activations: each builds on the one before, so the chain holds every row.
    chain, current = [], max(rows)
    while current is not None:
        chain.append(current)
        current = rows[current].previous_id
    assert sorted(chain) == sorted(rows)


@pytest.mark.parametrize("name", ["", "a/b", "x" * 129, "main?x", "..a b"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_name(name)
    assert info.value.field == "name"


@pytest.mark.parametrize("name", ["main", "edge-eu.1", "A_b"])
def test_good_names_pass(name: str) -> None:
    assert check_name(name) == name


@given(st.text(max_size=140))
def test_check_name_accepts_exactly_path_safe_words(name: str) -> None:
    safe = 1 <= len(name) <= 128 and all(c.isalnum() or c in "-_." for c in name)
    try:
        check_name(name)
        accepted = True
    except InvalidRequest:
        accepted = False
    assert accepted == safe
