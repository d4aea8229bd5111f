"""boto3 rows: users and their attributes through the admin API, as backends manage them."""

from __future__ import annotations

from datetime import datetime

from tests.support.matrix.core import (
    OTHER_PASSWORD,
    PASSWORD,
    Rows,
    Target,
    attribute,
    check,
    claims,
    cognito_error,
    equal,
    unique,
)
from tests.support.matrix.kit import Kit

rows = Rows("boto3")


@rows.row("boto3.admin_create_user", "AdminCreateUser: Cognito's user shape, a sub, status")
def admin_create_user(target: Target) -> None:
    kit = Kit(target)
    username = unique("alice-")
    user = kit.admin.admin_create_user(
        UserPoolId=kit.pool_id,
        Username=username,
        TemporaryPassword=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "alice@example.com"}],
        MessageAction="SUPPRESS",
    )["User"]
    equal(user["Username"], username, "Username")
    equal(user["UserStatus"], "FORCE_CHANGE_PASSWORD", "UserStatus")
    equal(user["Enabled"], True, "Enabled")
    check(isinstance(user["UserCreateDate"], datetime), "UserCreateDate is not a timestamp")
    sub = attribute(user["Attributes"], "sub")
    check(sub and len(sub) == 36, f"sub {sub!r} is not a UUID")
    equal(attribute(user["Attributes"], "email"), "alice@example.com", "email")


@rows.row("boto3.admin_create_user.duplicate", "the same username twice")
def admin_create_user_duplicate(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    with cognito_error("UsernameExistsException"):
        kit.person(person.username)


@rows.row("boto3.admin_create_user.unknown_attribute", "an attribute the schema lacks")
def admin_create_user_unknown_attribute(target: Target) -> None:
    kit = Kit(target)
    with cognito_error("InvalidParameterException"):
        kit.admin.admin_create_user(
            UserPoolId=kit.pool_id,
            Username=unique("u-"),
            UserAttributes=[{"Name": "custom:nowhere", "Value": "x"}],
            MessageAction="SUPPRESS",
        )


@rows.row("boto3.admin_create_user.unknown_pool", "a user of an unknown pool")
def admin_create_user_unknown_pool(target: Target) -> None:
    with cognito_error("ResourceNotFoundException"):
        target.admin().admin_create_user(
            UserPoolId="us-east-1_NoSuchPool", Username="x", MessageAction="SUPPRESS"
        )


@rows.row("boto3.admin_get_user", "AdminGetUser: attributes, dates, status CONFIRMED")
def admin_get_user(target: Target) -> None:
    kit = Kit(target)
    person = kit.person(**{"custom:tenant_id": "t-1"})
    user = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(user["Username"], person.username, "Username")
    equal(user["UserStatus"], "CONFIRMED", "UserStatus")
    equal(user["Enabled"], True, "Enabled")
    check(isinstance(user["UserLastModifiedDate"], datetime), "UserLastModifiedDate")
    equal(attribute(user["UserAttributes"], "sub"), person.sub, "sub")
    equal(attribute(user["UserAttributes"], "custom:tenant_id"), "t-1", "custom:tenant_id")


@rows.row("boto3.admin_get_user.unknown", "an unknown user is UserNotFoundException")
def admin_get_user_unknown(target: Target) -> None:
    kit = Kit(target)
    with cognito_error("UserNotFoundException"):
        kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username="nobody")


@rows.row("boto3.admin_set_user_password", "temporary then permanent: the status follows")
def admin_set_user_password(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    kit.admin.admin_set_user_password(
        UserPoolId=kit.pool_id, Username=person.username, Password=OTHER_PASSWORD, Permanent=False
    )
    status = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(status["UserStatus"], "FORCE_CHANGE_PASSWORD", "status after a temporary password")
    kit.admin.admin_set_user_password(
        UserPoolId=kit.pool_id, Username=person.username, Password=OTHER_PASSWORD, Permanent=True
    )
    status = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(status["UserStatus"], "CONFIRMED", "status after a permanent password")
    kit.sign_in(kit.app(), person, OTHER_PASSWORD)


@rows.row("boto3.admin_set_user_password.weak", "a password the policy refuses")
def admin_set_weak_password(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    with cognito_error("InvalidPasswordException"):
        kit.admin.admin_set_user_password(
            UserPoolId=kit.pool_id, Username=person.username, Password="short", Permanent=True
        )


@rows.row("boto3.admin_update_user_attributes", "AdminUpdateUserAttributes and the ID token")
def admin_update_attributes(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    kit.admin.admin_update_user_attributes(
        UserPoolId=kit.pool_id,
        Username=person.username,
        UserAttributes=[
            {"Name": "custom:tenant_id", "Value": "t-2"},
            {"Name": "name", "Value": "Alice"},
        ],
    )
    user = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(attribute(user["UserAttributes"], "name"), "Alice", "name")
    identity = claims(kit.sign_in(kit.app(), person)["IdToken"])
    equal(identity.get("custom:tenant_id"), "t-2", "custom:tenant_id in the ID token")


@rows.row("boto3.admin_update_user_attributes.sub", "sub cannot be changed")
def admin_update_sub(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    with cognito_error("InvalidParameterException"):
        kit.admin.admin_update_user_attributes(
            UserPoolId=kit.pool_id,
            Username=person.username,
            UserAttributes=[{"Name": "sub", "Value": "00000000-0000-4000-8000-000000000000"}],
        )


@rows.row("boto3.admin_delete_user_attributes", "AdminDeleteUserAttributes")
def admin_delete_attributes(target: Target) -> None:
    kit = Kit(target)
    person = kit.person(name="Alice")
    kit.admin.admin_delete_user_attributes(
        UserPoolId=kit.pool_id, Username=person.username, UserAttributeNames=["name"]
    )
    user = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(attribute(user["UserAttributes"], "name"), None, "name after delete")


@rows.row("boto3.admin_disable_user", "a disabled user cannot sign in; Enabled is false")
def admin_disable_user(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    kit.admin.admin_disable_user(UserPoolId=kit.pool_id, Username=person.username)
    user = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(user["Enabled"], False, "Enabled")
    with cognito_error("NotAuthorizedException", "User is disabled."):
        kit.sign_in(app, person)


@rows.row("boto3.admin_enable_user", "AdminEnableUser lets a disabled user sign in again")
def admin_enable_user(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    kit.admin.admin_disable_user(UserPoolId=kit.pool_id, Username=person.username)
    kit.admin.admin_enable_user(UserPoolId=kit.pool_id, Username=person.username)
    kit.sign_in(app, person)


@rows.row("boto3.admin_delete_user", "AdminDeleteUser; the user is gone")
def admin_delete_user(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    kit.admin.admin_delete_user(UserPoolId=kit.pool_id, Username=person.username)
    with cognito_error("UserNotFoundException"):
        kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    with cognito_error("UserNotFoundException"):
        kit.admin.admin_delete_user(UserPoolId=kit.pool_id, Username=person.username)


@rows.row("boto3.list_users", "ListUsers lists users with their attributes")
def list_users(target: Target) -> None:
    kit = Kit(target)
    made = {kit.person().username for _ in range(2)}
    users = kit.admin.list_users(UserPoolId=kit.pool_id)["Users"]
    equal({u["Username"] for u in users}, made, "usernames")
    check(all(attribute(u["Attributes"], "sub") for u in users), "a listed user lacks sub")


@rows.row("boto3.list_users.filter", 'ListUsers Filter email = "..." and username ^= "..."')
def list_users_filter(target: Target) -> None:
    kit = Kit(target)
    alice, _ = kit.person("alice-1"), kit.person("bob-1")
    by_email = kit.admin.list_users(UserPoolId=kit.pool_id, Filter=f'email = "{alice.email}"')
    equal([u["Username"] for u in by_email["Users"]], [alice.username], "email filter")
    prefix = kit.admin.list_users(UserPoolId=kit.pool_id, Filter='username ^= "ali"')
    equal([u["Username"] for u in prefix["Users"]], [alice.username], "prefix filter")


@rows.row("boto3.list_users.bad_filter", "a malformed Filter is InvalidParameterException")
def list_users_bad_filter(target: Target) -> None:
    kit = Kit(target)
    with cognito_error("InvalidParameterException"):
        kit.admin.list_users(UserPoolId=kit.pool_id, Filter="email is alice")


@rows.row("boto3.paginate.list_users", "the ListUsers paginator walks pages (PaginationToken)")
def paginate_users(target: Target) -> None:
    kit = Kit(target)
    made = {kit.person(password=None).username for _ in range(5)}
    pages = list(
        kit.admin.get_paginator("list_users").paginate(
            UserPoolId=kit.pool_id, PaginationConfig={"PageSize": 2}
        )
    )
    listed = [u["Username"] for page in pages for u in page["Users"]]
    equal(sorted(listed), sorted(made), "users over all pages")
    equal(len(pages), 3, "pages of 2 for 5 users")


@rows.row("boto3.admin_user_global_sign_out", "AdminUserGlobalSignOut revokes the user's tokens")
def admin_user_global_sign_out(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    tokens = kit.sign_in(app, person)
    kit.admin.admin_user_global_sign_out(UserPoolId=kit.pool_id, Username=person.username)
    kit.signed_out(app, tokens, person)


@rows.row(
    "boto3.admin_list_user_auth_events",
    "AdminListUserAuthEvents (pool with threat protection, as Cognito needs)",
)
def admin_list_user_auth_events(target: Target) -> None:
    kit = Kit(target, UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"})
    person = kit.person()
    pages = kit.admin.admin_list_user_auth_events(
        UserPoolId=kit.pool_id, Username=person.username, MaxResults=10
    )
    check(isinstance(pages.get("AuthEvents"), list), f"no AuthEvents list: {sorted(pages)}")
    with cognito_error("UserNotFoundException"):
        kit.admin.admin_list_user_auth_events(UserPoolId=kit.pool_id, Username="nobody")


@rows.row("boto3.admin_get_user.by_sub", "admin operations take the user's sub as Username")
def admin_get_user_by_sub(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    user = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.sub)
    equal(user["Username"], person.username, "Username")


@rows.row("boto3.list_users.attributes_to_get", "ListUsers AttributesToGet returns only those")
def list_users_attributes_to_get(target: Target) -> None:
    kit = Kit(target)
    kit.person(name="Alice")
    users = kit.admin.list_users(UserPoolId=kit.pool_id, AttributesToGet=["email"])["Users"]
    equal([sorted(a["Name"] for a in u["Attributes"]) for u in users], [["email"]], "attributes")


@rows.row("boto3.list_users.bad_pagination_token", "a PaginationToken the service never gave")
def list_users_bad_token(target: Target) -> None:
    kit = Kit(target)
    kit.person(password=None)
    with cognito_error("InvalidParameterException"):
        kit.admin.list_users(UserPoolId=kit.pool_id, PaginationToken="not-a-token")
