# The default RBAC + ABAC policy. See policies/README.md for the input, output and data.
# Strings are built with concat; sprintf is as safe now that the PDP serves the JSON
# artifact (policies/README.md, engine limits).
package authz

import rego.v1

# A well-formed input always gets a decision; nothing matched means no role grants it.
default decision := {"allow": false, "reasons": ["no_matching_role"]}

# Hard denies (tenant isolation, explicit forbids) win over every grant.
decision := {"allow": false, "reasons": sorted(deny_reasons)} if count(deny_reasons) > 0

decision := {"allow": true, "reasons": sorted(allow_reasons)} if {
	count(deny_reasons) == 0
	count(allow_reasons) > 0
}

# A role would grant the action, but one of its conditions does not hold.
decision := {"allow": false, "reasons": sorted(condition_failures)} if {
	count(deny_reasons) == 0
	count(allow_reasons) == 0
	count(condition_failures) > 0
}

# regopy 1.5.2's sort() of a set yields a value that prints as an array but cannot be
# indexed or compared with one; sorting an array built from the set behaves as in OPA.
sorted(items) := sort([item | some item in items])

# --- hard denies -------------------------------------------------------------

deny_reasons contains "tenant_mismatch" if {
	not same_tenant
	count(cross_tenant_roles) == 0
}

deny_reasons contains concat("", ["forbidden:", forbid.id]) if {
	some forbid in data.forbids
	some pattern in forbid.actions
	action_matches(pattern, input.action)
	attributes_match(object.get(forbid, "subject_attributes", {}), input.subject)
	attributes_match(object.get(forbid, "resource_attributes", {}), input.resource)
}

attributes_match(required, entity) if {
	every name, allowed in required {
		entity.attributes[name] in allowed
	}
}

# --- tenant isolation --------------------------------------------------------

same_tenant if {
	is_string(input.subject.tenant_id)
	input.subject.tenant_id != ""
	input.subject.tenant_id == input.resource.tenant_id
}

# Roles a grant lets subjects of another tenant use on this resource's tenant.
cross_tenant_roles contains role if {
	not same_tenant
	some grant in data.cross_tenant_grants
	grant.subject_tenant == input.subject.tenant_id
	grant.resource_tenant == input.resource.tenant_id
	resource_type_granted(grant)
	some role in grant.roles
}

resource_type_granted(grant) if not grant.resource_types

resource_type_granted(grant) if input.resource.type in grant.resource_types

# --- bindings: which roles the subject holds, and through what ---------------

subject_kind := "client" if input.subject.type == "client"

else := "user"

bindings contains {"role": role, "via": concat(":", [subject_kind, input.subject.id])} if {
	some role in input.subject.roles
}

bindings contains {"role": role, "via": concat(":", ["group", group.id])} if {
	some group in input.subject.groups
	some role in group.roles
}

bindings contains {"role": role, "via": concat(":", ["company", input.subject.company.id])} if {
	some role in input.subject.company.roles
}

usable_bindings contains binding if {
	same_tenant
	some binding in bindings
}

usable_bindings contains binding if {
	some binding in bindings
	binding.role in cross_tenant_roles
}

# --- roles and permissions ---------------------------------------------------

# What each role grants, its included roles' permissions folded in: `data.role_grants`, a
# role closure precomputed from `data.roles` when the bundle is built (policies/README.md), so
# no decision walks the role graph. A grant is {"action": pattern, "conditions": {...}}, the
# conditions of the role and of the permission merged: a condition the permission names
# replaces the role's whole condition of that name.
role_grants_of(roles) := {name: [grant |
	some role in graph.reachable(includes_of(roles), {name})
	some permission in roles[role].permissions
	grant := {
		"action": permission_action(permission),
		"conditions": replace_keys(object.get(roles[role], "when", {}), permission_conditions(permission)),
	}
] |
	some name, _ in roles
}

includes_of(roles) := {name: object.get(definition, "includes", []) | some name, definition in roles}

# `pdp eval data.authz.computed_role_grants` prints the value `data.role_grants` must hold.
computed_role_grants := role_grants_of(data.roles)

# Every (binding, grant) pair whose action pattern matches the requested action.
candidates contains {"binding": binding, "conditions": grant.conditions} if {
	some binding in usable_bindings
	some grant in data.role_grants[binding.role]
	action_matches(grant.action, input.action)
}

# object.union merges nested objects in OPA but not in regopy 1.5.2; with disjoint keys both
# engines agree.
replace_keys(base, overrides) := object.union(object.remove(base, object.keys(overrides)), overrides)

permission_action(permission) := permission if is_string(permission)

permission_action(permission) := permission.action if is_object(permission)

permission_conditions(permission) := {} if is_string(permission)

permission_conditions(permission) := object.get(permission, "when", {}) if is_object(permission)

# `type:verb` patterns; `*` matches one whole segment (`document:*`, `*:read`, `*:*`).
action_matches(pattern, action) if {
	is_string(action)
	glob.match(pattern, [":"], action)
}

allow_reasons contains concat("", ["role:", candidate.binding.role, " via ", candidate.binding.via]) if {
	some candidate in candidates
	count(failed_conditions(candidate.conditions)) == 0
}

condition_failures contains failure if {
	some candidate in candidates
	some failure in failed_conditions(candidate.conditions)
}
