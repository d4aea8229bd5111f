# The AuthZEN Todo interop scenario (https://authzen-interop.net), as a PDP decision policy.
#
# Roles come from the PDP's directory (input.subject.roles); a user's email is the directory
# attribute `email`; a todo's owner is its `ownerID` property (input.resource.attributes).
# data.permissions maps each action to the roles that may do it on any resource (`any`, where
# "*" means every user) and the roles that may do it only on their own todos (`own`).
package authz

import rego.v1

default decision := {"allow": false, "reasons": ["not_permitted"]}

decision := {"allow": true, "reasons": sort([g | some g in grants])} if count(grants) > 0

decision := {"allow": false, "reasons": ["not_owner"]} if {
	count(grants) == 0
	some role in permission.own
	role in input.subject.roles
}

decision := {"allow": false, "reasons": ["unknown_action"]} if not data.permissions[input.action]

permission := data.permissions[input.action]

grants contains "every_user" if "*" in permission.any

grants contains concat("", ["role:", role]) if {
	some role in permission.any
	role in input.subject.roles
}

grants contains concat("", ["role:", role, " on own todo"]) if {
	some role in permission.own
	role in input.subject.roles
	is_owner
}

is_owner if input.resource.attributes.ownerID == input.subject.attributes.email
