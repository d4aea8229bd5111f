package authz_test

import rego.v1

# regopy 1.5.2 aborts on `with input as {...}`: replace the input's fields instead.
decide(subject, action, resource) := result if {
	result := data.authz.decision with input.subject as subject with input.action as action with input.resource as resource
}

rick := {"id": "rick", "roles": ["admin", "evil_genius"], "attributes": {"email": "rick@the-citadel.com"}}

morty := {"id": "morty", "roles": ["editor"], "attributes": {"email": "morty@the-citadel.com"}}

beth := {"id": "beth", "roles": ["viewer"], "attributes": {"email": "beth@the-smiths.com"}}

todo_of(owner) := {"type": "todo", "id": "7240d0db-8ff0-41ec-98b2-34a096273b9f", "attributes": {"ownerID": owner}}

a_user := {"type": "user", "id": "beth@the-smiths.com", "attributes": {}}

test_everyone_reads_users_and_todos if {
	every subject in [rick, morty, beth] {
		decide(subject, "can_read_user", a_user).allow
		decide(subject, "can_read_todos", todo_of("rick@the-citadel.com")).allow
	}
}

test_admin_and_editor_create if {
	decide(rick, "can_create_todo", todo_of("")).reasons == ["role:admin"]
	decide(morty, "can_create_todo", todo_of("")).allow
	not decide(beth, "can_create_todo", todo_of("")).allow
}

test_evil_genius_updates_any_todo if {
	decide(rick, "can_update_todo", todo_of("morty@the-citadel.com")).reasons == ["role:evil_genius"]
}

test_editor_updates_and_deletes_only_own if {
	decide(morty, "can_update_todo", todo_of("morty@the-citadel.com")).reasons == ["role:editor on own todo"]
	decide(morty, "can_delete_todo", todo_of("morty@the-citadel.com")).allow
	decide(morty, "can_update_todo", todo_of("rick@the-citadel.com")) == {"allow": false, "reasons": ["not_owner"]}
	not decide(morty, "can_delete_todo", todo_of("rick@the-citadel.com")).allow
}

test_admin_deletes_any_todo if {
	decide(rick, "can_delete_todo", todo_of("beth@the-smiths.com")).reasons == ["role:admin"]
}

test_viewer_only_reads if {
	every action in ["can_create_todo", "can_update_todo", "can_delete_todo"] {
		decide(beth, action, todo_of("beth@the-smiths.com")) == {"allow": false, "reasons": ["not_permitted"]}
	}
}

test_unknown_action_is_denied if {
	decide(rick, "can_launch_portal_gun", a_user) == {"allow": false, "reasons": ["unknown_action"]}
}
