"""Bundles: the history of published revisions, a diff of two, and activation or rollback
behind a confirmation that shows the replay impact first (docs/console.md)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from fastapi import Form, Query
from fastapi.responses import RedirectResponse, Response

from pdp.api.admin_bundles import caller_of
from pdp.bundles.impact import ImpactRequest
from pdp.console.registry import Page
from pdp.console.visit import Reading, Visit, Writing
from pdp.errors import Conflict
from pdp.services import Services

PAGE = Page("Bundles", "/console/bundles", 30)
router = PAGE.router()
# Revisions on one page of the history; the diff form offers these.
HISTORY_PAGE = 25
# Whose facts the replay uses: as each decision recorded them, or as the directory is now.
DirectoryChoice = Literal["recorded", "current"]
NOTICES = {
    "activated": "Revision {revision} is active.",
    "rolled_back": "Rolled back: revision {revision} is active.",
}


def _name(services: Services) -> str:
    return services.settings.bundle_name


@router.get("")
def history(
    visit: Reading,
    page_token: str | None = Query(default=None, max_length=32),
    done: str | None = Query(default=None, max_length=32),
    revision: str | None = Query(default=None, max_length=256),
) -> Response:
    services = visit.services
    name = _name(services)
    records, next_token = services.bundles.list(name, limit=HISTORY_PAGE, page_token=page_token)
    activations, _ = services.bundles.activations(name, limit=10, page_token=None)
    active = next((r.revision for r in records if r.active), None)
    default_from, default_to = _diff_defaults([r.revision for r in records], active)
    return visit.render(
        "pages/bundles.html",
        name=name,
        records=records,
        next_token=next_token,
        activations=activations,
        rollback_to=services.bundles.store.rollback_target(name),
        default_from=default_from,
        default_to=default_to,
        mode=services.bundles.mode,
        done=_notice(services, done, revision),
    )


@router.get("/diff")
def diff(
    visit: Reading,
    base: str = Query(alias="from", min_length=1, max_length=256),
    target: str = Query(alias="to", min_length=1, max_length=256),
) -> Response:
    changes = visit.services.bundle_diff(_name(visit.services), base, target)
    return visit.render("pages/bundle_diff.html", diff=changes)


def _confirmation(
    visit: Visit,
    action: Literal["activate", "rollback"],
    revision: str,
    directory: DirectoryChoice,
) -> Response:
    services = visit.services
    impact = services.bundle_impact(_name(services), revision, ImpactRequest(directory=directory))
    return visit.render(
        "pages/bundle_confirm.html",
        action=action,
        impact=impact,
        report=impact.report.to_json(),
        directory=directory,
        mode=services.bundles.mode,
    )


@router.get("/activate")
def confirm_activation(
    visit: Writing,
    revision: str = Query(min_length=1, max_length=256),
    directory: DirectoryChoice = "recorded",
) -> Response:
    """The replay impact of `revision`, and the button that activates it."""
    return _confirmation(visit, "activate", revision, directory)


@router.get("/rollback")
def confirm_rollback(visit: Writing, directory: DirectoryChoice = "recorded") -> Response:
    """The replay impact of the revision a rollback returns to, and the button."""
    name = _name(visit.services)
    target = visit.services.bundles.store.rollback_target(name)
    if target is None:
        raise Conflict(f"bundle {name} has no earlier activation to roll back to")
    return _confirmation(visit, "rollback", target, directory)


def _done(action: str, revision: str) -> Response:
    query = urlencode({"done": action, "revision": revision})
    return RedirectResponse(f"/console/bundles?{query}", status_code=303)


def _diff_defaults(newest_first: list[str], active: str | None) -> tuple[str | None, str | None]:
    """The diff form's first question: what would activating the newest change (served ->
    newest), or, when the newest is served, what its activation changed (previous -> newest)."""
    if not newest_first:
        return None, None
    newest = newest_first[0]
    if active is not None and active != newest:
        return active, newest
    return (newest_first[1] if len(newest_first) > 1 else None), newest


def _notice(services: Services, action: str | None, revision: str | None) -> str | None:
    """What the last activation or rollback did, said only when `revision` is indeed active
    (a link cannot make the page claim what did not happen), with the replica's warning."""
    active = services.bundles.active(_name(services))
    if action not in NOTICES or active is None or active.revision != revision:
        return None
    warning = services.bundles.replica_view(_name(services)).get("warning")
    text = NOTICES[action].format(revision=revision)
    return f"{text} {warning}" if warning else text


@router.post("/activate")
def activate(visit: Writing, revision: str = Form(min_length=1, max_length=256)) -> Response:
    bundles, caller = visit.services.bundles, caller_of(visit.viewer.principal)
    record = bundles.activate(_name(visit.services), revision, caller)
    return _done("activated", record.revision)


@router.post("/rollback")
def rollback(visit: Writing, expected: str = Form(min_length=1, max_length=256)) -> Response:
    """Rolls back only to the revision the confirmation showed: if another admin changed the
    activations meanwhile, the target differs and nothing is done (a 409 page)."""
    bundles, caller = visit.services.bundles, caller_of(visit.viewer.principal)
    record = bundles.rollback(_name(visit.services), caller, expected=expected)
    return _done("rolled_back", record.revision)
