"""The services one PDP process runs, built once at start and shared by every router."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pdp.admin_work import AdminWork
from pdp.authn import Authenticator
from pdp.bundles.diff import BundleDiff, diff_revisions
from pdp.bundles.impact import Impact, ImpactRequest, replay_impact
from pdp.bundles.loader import load_policy_source
from pdp.bundles.publish import BundleService
from pdp.bundles.store import BundleStore
from pdp.decision import DecisionService
from pdp.decision_log import DecisionLog, DecisionLogStore
from pdp.decision_spool import DecisionSpool, spool_directory
from pdp.directory.snapshot import DirectorySnapshot
from pdp.directory.store import DirectoryStore
from pdp.metrics import Metrics
from pdp.policy import BundleFollower, PolicyRuntime
from pdp.settings import Settings

logger = logging.getLogger("pdp")


@dataclass
class Services:
    settings: Settings
    directory: DirectoryStore
    snapshot: DirectorySnapshot
    authenticator: Authenticator
    policy: PolicyRuntime
    decisions: DecisionService
    decision_log: DecisionLog
    metrics: Metrics
    bundles: BundleService
    admin_work: AdminWork
    # Follows the store's active bundle; None when a bundle on disk is served (development).
    follower: BundleFollower | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Open the store, load the directory and the startup bundle: the one on disk when
        `settings.bundle` names one, else the store's active revision of `bundle_name`."""
        metrics = Metrics()
        timeout = settings.database_timeout_seconds
        # Admin requests use `directory`'s pool; the pollers, the bundle follower and the
        # decision log have their own, so admin work stuck on a database never starves them.
        directory = DirectoryStore(settings.database_url, timeout=timeout)
        background = DirectoryStore(settings.database_url, timeout=timeout, create_schema=False)
        # The directory loads (seconds at 100,000 users) while the bundle compiles in its child
        # process, so start-up waits for the slower of the two rather than for both.
        with ThreadPoolExecutor(1, thread_name_prefix="directory-load") as loading:
            pending_snapshot = loading.submit(DirectorySnapshot, background)
            authenticator = Authenticator(
                settings.trusted_issuers, cache_seconds=settings.jwks_cache_seconds
            )
            policy = PolicyRuntime(settings.decision_entrypoint, metrics)
            bundle_store = BundleStore(directory.engine)
            follower = None
            if settings.bundle is not None:
                # Rego tests are for `pdp test`; compiled into the serving bundle they make
                # every evaluation several times slower in regopy.
                policy.load(
                    load_policy_source(
                        settings.bundle,
                        include_tests=False,
                        verification_keys=settings.bundle_verification_keys,
                    )
                )
            else:
                follower = BundleFollower(
                    policy,
                    BundleStore(background.engine),
                    settings.bundle_name,
                    max_bytes=settings.bundle_max_bytes,
                    verification_keys=settings.bundle_verification_keys,
                )
                follower.sync()
            snapshot = pending_snapshot.result()
        _log_bundle_mode(settings, policy)
        bundles = BundleService(
            bundle_store,
            policy,
            verification_keys=settings.bundle_verification_keys,
            max_bytes=settings.bundle_max_bytes,
            follower=follower,
            fixed_bundle=settings.bundle is not None,
        )
        decision_log = DecisionLog(
            DecisionLogStore(background.engine),
            metrics,
            capacity=settings.decision_log_queue,
            spool=DecisionSpool(
                spool_directory(settings.decision_log_spool_dir, settings.database_url),
                max_bytes=settings.decision_log_spool_max_bytes,
                fsync_seconds=settings.decision_log_fsync_seconds,
            ),
        )
        decisions = DecisionService(
            authenticator=authenticator,
            snapshot=snapshot,
            policy=policy,
            decision_log=decision_log,
            metrics=metrics,
            eval_timeout=settings.eval_timeout_seconds,
            cache_entries=settings.decision_cache_entries,
            threads=settings.decision_threads,
        )
        return cls(
            settings=settings,
            directory=directory,
            snapshot=snapshot,
            authenticator=authenticator,
            policy=policy,
            decisions=decisions,
            decision_log=decision_log,
            metrics=metrics,
            bundles=bundles,
            admin_work=AdminWork(timeout),
            follower=follower,
        )

    def bundle_diff(self, name: str, base: str, target: str) -> BundleDiff:
        """What changed from stored revision `base` of bundle `name` to `target` (the admin
        API's bundle-diff and the console's Bundles page)."""
        max_bytes = self.settings.bundle_max_bytes
        return diff_revisions(self.bundles.store, name, base, target, max_bytes=max_bytes)

    def bundle_impact(self, name: str, revision: str, request: ImpactRequest) -> Impact:
        """The recent decisions stored `revision` of `name` would change, replayed against it
        without activating it (the admin API's replay and the console's confirmation)."""
        return replay_impact(
            self.bundles.store,
            self.policy,
            self.decision_log.store,
            self.snapshot,
            name,
            revision,
            request,
            max_bytes=self.settings.bundle_max_bytes,
        )

    def start_background(self) -> None:
        """Follow directory changes and bundle activations other replicas make in the store."""
        thread = threading.Thread(target=self._poll_directory, name="directory-poll", daemon=True)
        thread.start()
        if self.follower is not None:
            threading.Thread(target=self._follow_bundle, name="bundle-poll", daemon=True).start()

    def _poll_directory(self) -> None:
        while not self._stop.wait(self.settings.directory_poll_seconds):
            try:
                self.snapshot.refresh_if_changed()
            except Exception as exc:
                # Keep serving the last good snapshot; the next poll tries again.
                logger.warning("directory refresh failed: %s", type(exc).__name__)

    def _follow_bundle(self) -> None:
        assert self.follower is not None
        while not self._stop.wait(self.settings.bundle_poll_seconds):
            try:
                self.follower.sync()
            except Exception as exc:
                # The store is unreachable: keep serving the active bundle and poll again.
                logger.warning("bundle poll failed: %s", type(exc).__name__)

    def close(self) -> None:
        self._stop.set()
        self.admin_work.close()
        self.decisions.close()
        self.decision_log.close()
        self.authenticator.close()


def _log_bundle_mode(settings: Settings, policy: PolicyRuntime) -> None:
    """The start-up line says where the policy comes from, so a development replica that will
    not follow activations says so before anyone activates anything on it."""
    if settings.bundle is not None:
        logger.warning(
            "serving a fixed bundle (revision %s) from PDP_BUNDLE %s: development mode, this "
            "replica does not follow the store's activations; edits need a restart",
            policy.revision,
            settings.bundle,
        )
    else:
        logger.info(
            "following the store's active bundle %s (serving %s)",
            settings.bundle_name,
            policy.revision or "none yet",
        )
