"""Publishing, activating and rolling back bundles: what the admin API and `pdp bundle` drive.

A bundle is stored only after it proved it can serve: the archive is well formed, its
signature verifies (when verification keys are configured), its own Rego tests pass, and it
compiles and smoke-evaluates the decision entrypoint, all of the engine work in a child
process. A refusal stores nothing. Activation only moves the active pointer in the shared
store; every replica follows it (see `pdp.policy.BundleFollower`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pdp.bundles.archive import BundleFormatError, read_archive, source_from_files
from pdp.bundles.signing import SignatureError, bundle_digest, load_public_key, verify_files
from pdp.bundles.store import (
    REVISION_MAX,
    Activation,
    ActiveBundle,
    BundleRecord,
    BundleStore,
    NewBundle,
    check_name,
)
from pdp.engine import CompileError, PolicySource, run_rego_tests
from pdp.errors import PDPError
from pdp.policy import BundleFollower, PolicyRuntime
from pdp.settings import SettingsError

# How many failing tests a refusal names before it summarises the rest.
_TESTS_NAMED = 3


class BundleRejected(PDPError):
    """The upload is not a bundle this PDP can accept; `code` says why, `field` is the body."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, field="body")
        self.code = code


def refused(message: str) -> BundleRejected:
    """A well-formed bundle that does not compile, fails its tests or crashes the engine."""
    return BundleRejected("bundle_refused", message)


@dataclass(frozen=True)
class Published:
    record: BundleRecord
    created: bool

    def to_json(self) -> dict[str, Any]:
        """The record and `stored`: false when these bytes were already published (nothing new)."""
        return {**self.record.to_json(), "stored": self.created}


# What an activation answer says when the replica that took it does not follow the store.
FIXED_BUNDLE_WARNING = (
    "stored as the active revision, but this replica serves a fixed bundle (PDP_BUNDLE, "
    "development) and does not follow the store: it keeps serving {served}; replicas that "
    "follow the store serve the new revision"
)
OTHER_NAME_WARNING = (
    "stored as the active revision of {name}, but this replica serves the bundle named {own}"
)


class BundleService:
    """The bundle lifecycle of one PDP process, over the shared bundle store."""

    def __init__(
        self,
        store: BundleStore,
        runtime: PolicyRuntime,
        *,
        verification_keys: Mapping[str, str],
        max_bytes: int,
        follower: BundleFollower | None = None,
        fixed_bundle: bool = False,
    ) -> None:
        for kid, pem in verification_keys.items():
            try:
                load_public_key(pem)
            except ValueError as exc:
                raise SettingsError(f"PDP_BUNDLE_VERIFICATION_KEYS[{kid!r}]: {exc}") from None
        self.store = store
        self._runtime = runtime
        self._keys = dict(verification_keys)
        self._max_bytes = max_bytes
        self._follower = follower
        self._fixed = fixed_bundle
        # Validation runs children that each take a core; one at a time per process.
        self._validating = threading.Lock()

    def publish(self, name: str, data: bytes, published_by: str) -> Published:
        """Validate and store a bundle archive; the same bytes again return the stored record."""
        check_name(name)
        try:
            files = read_archive(data, max_bytes=self._max_bytes)
            source = source_from_files(files, include_tests=True, require_manifest=True)
            serving = source_from_files(files, include_tests=False, require_manifest=True)
        except BundleFormatError as exc:
            raise BundleRejected("invalid_bundle", str(exc)) from None
        _check_revision(source.revision)
        try:
            signature = verify_files(files, self._keys)
        except SignatureError as exc:
            raise BundleRejected(exc.reason, str(exc)) from None
        except BundleFormatError as exc:
            raise BundleRejected("invalid_bundle", str(exc)) from None
        digest = bundle_digest(data)
        existing = self.store.get(name, source.revision)
        if existing is None:
            with self._validating:
                self._validate(source, serving)
        record, created = self.store.add(
            NewBundle(
                name=name,
                revision=source.revision,
                digest=digest,
                archive=data,
                published_by=published_by,
                signature_status=signature.status,
                signature_key_id=signature.key_id,
                manifest={
                    "revision": source.revision,
                    "roots": list(source.roots),
                    "metadata": source.metadata,
                },
            )
        )
        return Published(record, created)

    def _validate(self, source: PolicySource, serving: PolicySource) -> None:
        """Run the bundle's own tests, then compile and smoke-test what replicas will serve."""
        from pdp.policytest.lint import static_refusal  # policytest reaches back to services

        if (static := static_refusal(source)) is not None:
            raise refused(static)
        try:
            failures = [t for t in run_rego_tests(source) if not t.passed]
        except CompileError as exc:
            raise refused(f"the bundle does not compile: {exc}") from None
        if failures:
            named = ", ".join(
                f"{t.package}.{t.name}" + (f" ({t.error})" if t.error else "")
                for t in failures[:_TESTS_NAMED]
            )
            more = len(failures) - _TESTS_NAMED
            suffix = f" and {more} more" if more > 0 else ""
            raise refused(f"{len(failures)} Rego test(s) failed: {named}{suffix}")
        try:
            # The tests above ran in memory; this proves they, and every served entrypoint,
            # decide the same on the saved-and-loaded artifact replicas will serve.
            self._runtime.compile(serving, tested=source)
        except CompileError as exc:
            raise refused(f"the bundle cannot serve decisions: {exc}") from None

    def activate(self, name: str, revision: str, by: str) -> BundleRecord:
        """Make `revision` active for every replica; this replica swaps before answering."""
        record = self.store.activate(check_name(name), revision, by)
        self._follow(name)
        return record

    def rollback(self, name: str, by: str, *, expected: str | None = None) -> BundleRecord:
        """Reactivate the revision that was active before the current one (`expected`: only
        if that is the revision the caller confirmed)."""
        record = self.store.rollback(check_name(name), by, expected=expected)
        self._follow(name)
        return record

    @property
    def mode(self) -> str:
        """`fixed`: this replica serves a bundle from disk (PDP_BUNDLE); `store`: it follows
        the store's active revision, so activations take effect here."""
        return "fixed" if self._fixed else "store"

    def replica_view(self, name: str) -> dict[str, Any]:
        """What this replica serves after an activation of `name`, with a `warning` when the
        activation does not change it, so an answer never claims an effect it did not have."""
        served = self._runtime.revision
        view: dict[str, Any] = {"bundle_mode": self.mode, "served_revision": served}
        if self._fixed:
            view["warning"] = FIXED_BUNDLE_WARNING.format(served=served)
        elif self._follower is not None and self._follower.name != name:
            view["warning"] = OTHER_NAME_WARNING.format(name=name, own=self._follower.name)
        return view

    def list(
        self, name: str, *, limit: int, page_token: str | None
    ) -> tuple[list[BundleRecord], str | None]:
        return self.store.list(check_name(name), limit=limit, page_token=page_token)

    def activations(
        self, name: str, *, limit: int, page_token: str | None
    ) -> tuple[list[Activation], str | None]:
        return self.store.activations(check_name(name), limit=limit, page_token=page_token)

    def active(self, name: str) -> ActiveBundle | None:
        return self.store.active(check_name(name))

    def archive(self, name: str, revision: str) -> bytes:
        return self.store.archive(check_name(name), revision)

    def _follow(self, name: str) -> None:
        if self._follower is not None and self._follower.name == name:
            self._follower.sync()


def _check_revision(revision: str) -> None:
    """Revisions travel in URLs and logs (`/admin/v1/bundles/{revision}/activate`)."""
    if len(revision) > REVISION_MAX or not revision.isprintable():
        raise BundleRejected(
            "invalid_bundle", f"the revision must be at most {REVISION_MAX} printable characters"
        )
