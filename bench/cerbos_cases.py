"""The same decisions asked of our `/decide` and of Cerbos's check API, and whether they agree.

A `/decide` body names the subject by id; our PDP looks its roles and attributes up in the
directory. Cerbos has no directory, so its caller must pass them: `cerbos_check` builds the
CheckResources request a PEP in front of Cerbos would send, from the same directory facts
(the subject's own, group and company roles flattened; its attributes, tenant and the client
IP as principal attributes). The cases cover the policy's branches for documents: the
benchmark request, and denies by department, role, network, owner, forbid and tenant.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import httpx

from bench.decide_bench import DECIDE_BODY
from pdp.directory.snapshot import DirectorySnapshot, SubjectFacts
from pdp.directory.store import DirectoryStore

ACME = DECIDE_BODY["resource"]["tenant_id"]
GLOBEX = "9a7b6c5d-0000-4000-8000-000000000002"
ALICE = DECIDE_BODY["subject"]["id"]  # engineering; editor through the engineering group
BOB = "6f0b2c1e-0000-4000-8000-000000000b0b"  # sales; viewer through his company only
CAROL = "6f0b2c1e-0000-4000-8000-0000000ca201"  # finance; auditor
DAN = "6f0b2c1e-0000-4000-8000-00000000da7e"  # engineering; commenter
ELLEN = "6f0b2c1e-0000-4000-8000-0000000e11e0"  # admin of the globex tenant
REPORTING = "demo-reporting-service"  # a client; auditor
OFFICE_IP, VPN_IP, OFFICE_IPV6, OUTSIDE_IP = (
    "10.1.2.3",
    "172.16.5.5",
    "2001:db8:1::5",
    "203.0.113.9",
)


def _case(
    subject: str = ALICE,
    action: str = "document:write",
    ip: str | None = OFFICE_IP,
    tenant: str = ACME,
    **attributes: Any,
) -> dict[str, Any]:
    """DECIDE_BODY with the parts a case changes."""
    body = copy.deepcopy(DECIDE_BODY)
    body["subject"]["id"] = subject
    body["action"] = action
    body["resource"]["tenant_id"] = tenant
    body["resource"]["attributes"].update(attributes)
    body["context"] = {"ip": ip} if ip is not None else {}
    return body


CASES: dict[str, dict[str, Any]] = {
    "benchmark request: alice writes an engineering document": DECIDE_BODY,
    "department differs": _case(department="sales"),
    "write from outside every network (write has no network condition)": _case(ip=OUTSIDE_IP),
    "no role grants write (bob, a viewer)": _case(subject=BOB, department="sales"),
    "viewer reads": _case(subject=BOB, action="document:read"),
    "owner deletes from the office": _case(action="document:delete", owner=ALICE),
    "owner deletes from the VPN": _case(action="document:delete", owner=ALICE, ip=VPN_IP),
    "owner deletes from the office, IPv6": _case(
        action="document:delete", owner=ALICE, ip=OFFICE_IPV6
    ),
    "owner deletes from outside": _case(action="document:delete", owner=ALICE, ip=OUTSIDE_IP),
    "owner deletes, no client IP": _case(action="document:delete", owner=ALICE, ip=None),
    "not the owner deletes": _case(action="document:delete"),
    "document on legal hold": _case(legal_hold=True),
    "subject of another tenant (admin of globex)": _case(subject=ELLEN),
    "admin writes in the own tenant": _case(subject=ELLEN, tenant=GLOBEX),
    "commenter writes": _case(subject=DAN),
    "commenter comments": _case(subject=DAN, action="document:comment"),
    "auditor reads": _case(subject=CAROL, action="document:read"),
    "auditor writes": _case(subject=CAROL, department="finance"),
    "client (auditor) reads": _case(subject=REPORTING, action="document:read"),
    "action no role has": _case(action="document:archive"),
}


def directory_subjects(database_url: str) -> dict[str, SubjectFacts]:
    """Every subject of the store, resolved by the PDP's own directory snapshot."""
    store = DirectoryStore(database_url)
    try:
        snapshot = DirectorySnapshot(store)
        return {s.id: s for t in snapshot.tenant_ids() for s in snapshot.subjects(t)}
    finally:
        store.close()


def cerbos_check(body: Mapping[str, Any], facts: SubjectFacts) -> dict[str, Any]:
    """The Cerbos CheckResources request for the `/decide` body, with the directory's facts."""
    roles = {*facts.roles, *(role for g in facts.groups for role in g.roles)}
    if facts.company is not None:
        roles.update(facts.company.roles)
    principal_attr = {**facts.attributes, "tenant_id": facts.tenant_id}
    if "ip" in body["context"]:
        principal_attr["ip"] = body["context"]["ip"]
    resource = body["resource"]
    resource_attr = {**resource["attributes"], "tenant_id": resource["tenant_id"]}
    return {
        "principal": {"id": facts.id, "roles": sorted(roles), "attr": principal_attr},
        "resources": [
            {
                "actions": [body["action"]],
                "resource": {"kind": resource["type"], "id": resource["id"], "attr": resource_attr},
            }
        ],
    }


def pdp_answers(url: str, headers: Mapping[str, str]) -> dict[str, bool]:
    """Each case's `allow` from our `/decide`."""
    answers = {}
    with httpx.Client(headers=dict(headers)) as client:
        for name, body in CASES.items():
            response = client.post(url + "/decide", json=body)
            response.raise_for_status()
            answers[name] = response.json()["allow"]
    return answers


def cerbos_answers(url: str, subjects: Mapping[str, SubjectFacts]) -> dict[str, bool]:
    """Each case's effect from Cerbos's `/api/check/resources`, as allow or not."""
    answers = {}
    with httpx.Client() as client:
        for name, body in CASES.items():
            check = cerbos_check(body, subjects[body["subject"]["id"]])
            response = client.post(url + "/api/check/resources", json=check)
            response.raise_for_status()
            effect = response.json()["results"][0]["actions"][body["action"]]
            answers[name] = effect == "EFFECT_ALLOW"
    return answers


def disagreements(ours: Mapping[str, bool], cerbos: Mapping[str, bool]) -> list[str]:
    """One line per case the two decide apart."""
    return [
        f"{name}: /decide allow={ours[name]}, Cerbos allow={cerbos[name]}"
        for name in CASES
        if ours[name] != cerbos[name]
    ]
