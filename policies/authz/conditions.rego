# ABAC conditions a role or permission can carry under "when". Each returns the set of
# deny reasons it produces; an empty set means it holds. Unknown conditions fail closed.
package authz

import rego.v1

known_conditions := {"networks", "hours", "weekdays", "same_attributes", "owner", "subject_attributes", "resource_attributes"}

failed_conditions(conditions) := union({failed(name, spec) | spec := conditions[name]})

failed(name, _) := {concat("", ["unknown_condition:", name])} if not name in known_conditions

# networks: names of data.networks; the PDP puts the names containing the client IP
# into input.context.networks (IPv4 and IPv6).
failed("networks", allowed) := {"network_not_allowed" | not in_network(allowed)}

in_network(allowed) if {
	some name in input.context.networks
	name in allowed
}

# hours: {"from": 8, "to": 18} in the tenant's time zone, `to` exclusive; from > to wraps
# midnight.
failed("hours", window) := {"outside_business_hours" | not within_hours(window)}

within_hours(window) if {
	window.from <= window.to
	input.context.tenant_time.hour >= window.from
	input.context.tenant_time.hour < window.to
}

within_hours(window) if {
	window.from > window.to
	input.context.tenant_time.hour >= window.from
}

within_hours(window) if {
	window.from > window.to
	input.context.tenant_time.hour < window.to
}

# weekdays: ["Monday", ...] in the tenant's time zone.
failed("weekdays", days) := {"weekday_not_allowed" | not input.context.tenant_time.weekday in days}

# same_attributes: ["department"]: subject and resource carry the same non-null value.
failed("same_attributes", names) := {concat("", [name, "_mismatch"]) |
	some name in names
	not same_attribute(name)
}

same_attribute(name) if {
	value := input.subject.attributes[name]
	value != null
	value == input.resource.attributes[name]
}

# owner: true: the resource's `owner` attribute is the subject's id.
failed("owner", required) := {"not_owner" | required == true; not is_owner}

is_owner if input.resource.attributes.owner == input.subject.id

# subject_attributes / resource_attributes: {"attr": [allowed values]}.
failed("subject_attributes", required) := {concat("", ["subject_", name, "_not_allowed"]) |
	allowed := required[name]
	not input.subject.attributes[name] in allowed
}

failed("resource_attributes", required) := {concat("", ["resource_", name, "_not_allowed"]) |
	allowed := required[name]
	not input.resource.attributes[name] in allowed
}
