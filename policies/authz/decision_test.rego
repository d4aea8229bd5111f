package authz_test

import rego.v1


tenant := "7c9e6679-7425-40de-944b-e07fc1f90ae7"

other_tenant := "0f8fad5b-d9cb-469f-a165-70867728950e"

base_subject := {
	"id": "alice",
	"type": "user",
	"tenant_id": tenant,
	"roles": [],
	"groups": [],
	"company": null,
	"attributes": {"department": "rd"},
}

base_resource := {
	"type": "document",
	"id": "d1",
	"tenant_id": tenant,
	"attributes": {"department": "rd", "owner": "alice"},
}

# Monday 11:00 in the tenant's zone, from the office.
base_context := {
	"ip": "10.1.2.3",
	"networks": ["office"],
	"tenant_time": {"timezone": "Europe/Warsaw", "weekday": "Monday", "hour": 11, "minute": 0, "date": "2026-11-23"},
}

request(subject_patch, action, resource_patch, context_patch) := {
	"subject": object.union(base_subject, subject_patch),
	"action": action,
	"resource": object.union(base_resource, resource_patch),
	"context": object.union(base_context, context_patch),
}

decide(req) := result if {
	result := data.authz.decision with input.subject as req.subject with input.action as req.action with input.resource as req.resource with input.context as req.context
}

# --- bindings ------------------------------------------------------------------

test_allow_via_direct_role if {
	decide(request({"roles": ["viewer"]}, "document:read", {}, {})) == {"allow": true, "reasons": ["role:viewer via user:alice"]}
}

test_allow_via_client_direct_role if {
	d := decide(request({"id": "svc-1", "type": "client", "roles": ["viewer"]}, "document:read", {}, {}))
	d == {"allow": true, "reasons": ["role:viewer via client:svc-1"]}
}

test_allow_via_group_role if {
	d := decide(request({"groups": [{"id": "engineering", "roles": ["viewer"]}]}, "document:read", {}, {}))
	d == {"allow": true, "reasons": ["role:viewer via group:engineering"]}
}

test_allow_via_company_role if {
	d := decide(request({"company": {"id": "acme", "roles": ["viewer"]}}, "document:read", {}, {}))
	d == {"allow": true, "reasons": ["role:viewer via company:acme"]}
}

test_every_granting_binding_is_a_reason if {
	d := decide(request(
		{"roles": ["viewer"], "groups": [{"id": "eng", "roles": ["editor"]}]},
		"document:read", {}, {},
	))
	d.allow
	d.reasons == ["role:editor via group:eng", "role:viewer via user:alice"]
}

test_no_bindings_denied if {
	decide(request({}, "document:read", {}, {})) == {"allow": false, "reasons": ["no_matching_role"]}
}

test_role_without_the_permission_denied if {
	decide(request({"roles": ["viewer"]}, "document:create", {}, {})) == {"allow": false, "reasons": ["no_matching_role"]}
}

test_undefined_role_grants_nothing if {
	decide(request({"roles": ["wizard"]}, "document:read", {}, {})).allow == false
}

test_empty_input_denied if {
	d := data.authz.decision with input.subject as null with input.action as null with input.resource as null with input.context as null
	d.allow == false
}

# --- inheritance and wildcards -------------------------------------------------

test_inherited_permission if {
	# editor includes commenter includes viewer
	decide(request({"roles": ["editor"]}, "document:read", {}, {})).allow
}

test_inheritance_is_transitive if {
	# admin -> document_admin -> editor -> commenter
	decide(request({"roles": ["admin"]}, "document:comment", {}, {})).allow
}

test_inheritance_does_not_flow_upwards if {
	not decide(request({"roles": ["viewer"]}, "document:comment", {}, {})).allow
}

test_type_wildcard if {
	decide(request({"roles": ["document_admin"]}, "document:archive", {}, {})).allow
	not decide(request({"roles": ["document_admin"]}, "invoice:archive", {}, {})).allow
}

test_verb_wildcard if {
	decide(request({"roles": ["auditor"]}, "invoice:read", {}, {})).allow
	not decide(request({"roles": ["auditor"]}, "invoice:write", {}, {})).allow
}

test_full_wildcard if {
	decide(request({"roles": ["admin"]}, "invoice:approve", {}, {})).allow
}

test_wildcard_matches_whole_segments_only if {
	not data.authz.action_matches("document:*", "document:read:all")
	not data.authz.action_matches("doc*:read", "folder:read")
}

# --- tenant isolation ----------------------------------------------------------

test_tenant_mismatch_denied if {
	d := decide(request({"roles": ["admin"]}, "document:read", {"tenant_id": other_tenant}, {}))
	d == {"allow": false, "reasons": ["tenant_mismatch"]}
}

test_permission_condition_replaces_the_roles_condition_of_that_name if {
	gs := {"night": {
		"when": {"hours": {"from": 22, "to": 6}},
		"permissions": [{"action": "document:read", "when": {"hours": {"from": 8}}}],
	}}
	rg := data.authz.role_grants_of(gs)
	req := request({"roles": ["night"]}, "document:read", {}, {})
	# The permission's {"from": 8} replaces the role's window: without a "to" no hour is inside.
	d := data.authz.decision with input.subject as req.subject with input.action as req.action with input.resource as req.resource with input.context as req.context with data.roles as gs with data.role_grants as rg
	d == {"allow": false, "reasons": ["outside_business_hours"]}
}

test_missing_resource_tenant_denied if {
	req := json.remove(request({"roles": ["admin"]}, "document:read", {}, {}), ["resource/tenant_id"])
	decide(req) == {"allow": false, "reasons": ["tenant_mismatch"]}
}

grants := [{
	"subject_tenant": tenant,
	"resource_tenant": other_tenant,
	"roles": ["viewer"],
	"resource_types": ["document"],
}]

test_cross_tenant_grant_allows_named_roles if {
	req := request({"roles": ["viewer"]}, "document:read", {"tenant_id": other_tenant}, {})
	gs := grants # regopy 1.5.2 ignores `with ... as <rule>`; a local variable works
	d := data.authz.decision with input.subject as req.subject with input.action as req.action with input.resource as req.resource with input.context as req.context with data.cross_tenant_grants as gs
	d == {"allow": true, "reasons": ["role:viewer via user:alice"]}
}

test_cross_tenant_grant_ignores_other_roles if {
	req := request({"roles": ["admin"]}, "document:delete", {"tenant_id": other_tenant}, {})
	gs := grants # regopy 1.5.2 ignores `with ... as <rule>`; a local variable works
	d := data.authz.decision with input.subject as req.subject with input.action as req.action with input.resource as req.resource with input.context as req.context with data.cross_tenant_grants as gs
	d == {"allow": false, "reasons": ["no_matching_role"]}
}

test_cross_tenant_grant_limited_to_resource_types if {
	req := request({"roles": ["viewer"]}, "folder:read", {"type": "folder", "tenant_id": other_tenant}, {})
	gs := grants # regopy 1.5.2 ignores `with ... as <rule>`; a local variable works
	d := data.authz.decision with input.subject as req.subject with input.action as req.action with input.resource as req.resource with input.context as req.context with data.cross_tenant_grants as gs
	d == {"allow": false, "reasons": ["tenant_mismatch"]}
}

test_cross_tenant_grant_is_one_way if {
	req := request({"roles": ["viewer"], "tenant_id": other_tenant}, "document:read", {"tenant_id": tenant}, {})
	gs := grants # regopy 1.5.2 ignores `with ... as <rule>`; a local variable works
	d := data.authz.decision with input.subject as req.subject with input.action as req.action with input.resource as req.resource with input.context as req.context with data.cross_tenant_grants as gs
	d == {"allow": false, "reasons": ["tenant_mismatch"]}
}

# --- network conditions (context.networks is computed by the PDP) --------------

test_delete_from_office_ipv4 if {
	decide(request({"roles": ["editor"]}, "document:delete", {}, {"ip": "10.1.2.3", "networks": ["office"]})).allow
}

test_delete_from_vpn_ipv6 if {
	decide(request({"roles": ["editor"]}, "document:delete", {}, {"ip": "2001:db8:2::7", "networks": ["vpn"]})).allow
}

test_delete_from_outside_denied if {
	d := decide(request({"roles": ["editor"]}, "document:delete", {}, {"ip": "203.0.113.9", "networks": []}))
	d == {"allow": false, "reasons": ["network_not_allowed"]}
}

test_delete_from_unknown_ipv6_denied if {
	d := decide(request({"roles": ["editor"]}, "document:delete", {}, {"ip": "2001:db8:9::1", "networks": []}))
	d == {"allow": false, "reasons": ["network_not_allowed"]}
}

test_missing_networks_fail_closed if {
	req := json.remove(request({"roles": ["editor"]}, "document:delete", {}, {}), ["context/networks"])
	decide(req) == {"allow": false, "reasons": ["network_not_allowed"]}
}

# --- time conditions (context.tenant_time is computed by the PDP) --------------

test_business_hours_allowed if {
	decide(request({"roles": ["payroll_clerk"]}, "payroll:read", {"type": "payroll"}, {})).allow
}

test_before_business_hours_denied if {
	ctx := {"tenant_time": object.union(base_context.tenant_time, {"hour": 7, "minute": 59})}
	d := decide(request({"roles": ["payroll_clerk"]}, "payroll:read", {"type": "payroll"}, ctx))
	d == {"allow": false, "reasons": ["outside_business_hours"]}
}

test_end_of_business_hours_exclusive if {
	ctx := {"tenant_time": object.union(base_context.tenant_time, {"hour": 18})}
	d := decide(request({"roles": ["payroll_clerk"]}, "payroll:read", {"type": "payroll"}, ctx))
	d == {"allow": false, "reasons": ["outside_business_hours"]}
}

test_weekend_denied if {
	ctx := {"tenant_time": object.union(base_context.tenant_time, {"weekday": "Saturday"})}
	d := decide(request({"roles": ["payroll_clerk"]}, "payroll:read", {"type": "payroll"}, ctx))
	d == {"allow": false, "reasons": ["weekday_not_allowed"]}
}

test_all_failed_conditions_reported if {
	ctx := {"networks": [], "tenant_time": object.union(base_context.tenant_time, {"weekday": "Sunday", "hour": 3})}
	d := decide(request({"roles": ["payroll_clerk"]}, "payroll:read", {"type": "payroll"}, ctx))
	d == {"allow": false, "reasons": ["network_not_allowed", "outside_business_hours", "weekday_not_allowed"]}
}

test_overnight_window if {
	data.authz.within_hours({"from": 22, "to": 6}) with input.context.tenant_time.hour as 23
	data.authz.within_hours({"from": 22, "to": 6}) with input.context.tenant_time.hour as 5
	not data.authz.within_hours({"from": 22, "to": 6}) with input.context.tenant_time.hour as 12
}

# --- attribute conditions ------------------------------------------------------

test_same_department_allowed if {
	decide(request({"roles": ["editor"]}, "document:write", {}, {})).allow
}

test_other_department_denied if {
	d := decide(request({"roles": ["editor"]}, "document:write", {"attributes": {"department": "sales", "owner": "alice"}}, {}))
	d == {"allow": false, "reasons": ["department_mismatch"]}
}

test_missing_department_denied if {
	req := json.remove(request({"roles": ["editor"]}, "document:write", {}, {}), ["subject/attributes/department"])
	d := decide(req)
	d == {"allow": false, "reasons": ["department_mismatch"]}
}

test_owner_may_delete if {
	decide(request({"roles": ["editor"]}, "document:delete", {}, {})).allow
}

test_non_owner_may_not_delete if {
	d := decide(request({"roles": ["editor"]}, "document:delete", {"attributes": {"department": "rd", "owner": "bob"}}, {}))
	d == {"allow": false, "reasons": ["not_owner"]}
}

test_unconditional_grant_beats_failed_condition if {
	# document_admin's document:* needs no ownership, although editor's delete does.
	d := decide(request({"roles": ["document_admin"]}, "document:delete", {"attributes": {"owner": "bob"}}, {}))
	d == {"allow": true, "reasons": ["role:document_admin via user:alice"]}
}

test_unknown_condition_fails_closed if {
	roles := {"odd": {"permissions": [{"action": "document:read", "when": {"moon_phase": "full"}}]}}
	rg := data.authz.role_grants_of(roles)
	req := request({"roles": ["odd"]}, "document:read", {}, {})
	d := data.authz.decision with input.subject as req.subject with input.action as req.action with input.resource as req.resource with input.context as req.context with data.roles as roles with data.role_grants as rg
	d == {"allow": false, "reasons": ["unknown_condition:moon_phase"]}
}

test_subject_and_resource_attribute_conditions if {
	roles := {"cleared": {"permissions": [{"action": "document:read", "when": {
		"subject_attributes": {"clearance": ["secret"]},
		"resource_attributes": {"classification": ["internal", "secret"]},
	}}]}}
	rg := data.authz.role_grants_of(roles)
	ok := request({"roles": ["cleared"], "attributes": {"clearance": "secret"}}, "document:read", {"attributes": {"classification": "secret"}}, {})
	data.authz.decision.allow with input.subject as ok.subject with input.action as ok.action with input.resource as ok.resource with input.context as ok.context with data.roles as roles with data.role_grants as rg
	bad := request({"roles": ["cleared"], "attributes": {"clearance": "public"}}, "document:read", {"attributes": {"classification": "top"}}, {})
	d := data.authz.decision with input.subject as bad.subject with input.action as bad.action with input.resource as bad.resource with input.context as bad.context with data.roles as roles with data.role_grants as rg
	d.reasons == ["resource_classification_not_allowed", "subject_clearance_not_allowed"]
}

# --- explicit forbids win ------------------------------------------------------

test_legal_hold_forbids_admin if {
	d := decide(request({"roles": ["admin"]}, "document:delete", {"attributes": {"legal_hold": true}}, {}))
	d == {"allow": false, "reasons": ["forbidden:legal_hold"]}
}

test_legal_hold_allows_reading if {
	decide(request({"roles": ["viewer"]}, "document:read", {"attributes": {"legal_hold": true}}, {})).allow
}

test_suspended_subject_forbidden if {
	d := decide(request({"roles": ["admin"], "attributes": {"status": "suspended"}}, "document:read", {}, {}))
	d == {"allow": false, "reasons": ["forbidden:subject_suspended"]}
}

# data.role_grants is generated from data.roles (policies/README.md): it must be in sync.
test_precomputed_role_grants_match_the_roles if {
	count(data.role_grants) == count(data.roles)
	count(role_grants_out_of_sync) == 0
}

role_grants_out_of_sync contains name if {
	computed := data.authz.role_grants_of(data.roles)
	some name, grants in computed
	not same_members(grants, object.get(data.role_grants, name, []))
}

same_members(a, b) if {
	count(a) == count(b)
	every item in a {
		item in b
	}
}

test_role_grants_fold_in_included_roles if {
	grants := data.authz.role_grants_of({"a": {"includes": ["b"], "permissions": ["x:y"]}, "b": {"when": {"owner": true}, "permissions": ["p:q"]}})
	{g | some g in grants.a} == {{"action": "x:y", "conditions": {}}, {"action": "p:q", "conditions": {"owner": true}}}
}
