"""boto3 rows: user pools, app clients and resource servers, as infrastructure code calls them."""

from __future__ import annotations

import re

from tests.support.matrix.core import Rows, Target, check, cognito_error, equal, unique
from tests.support.matrix.kit import Kit

rows = Rows("boto3")
POOL_ID = re.compile(r"^[\w-]+_[0-9a-zA-Z]+$")


@rows.row("boto3.create_user_pool", "CreateUserPool answers Cognito's pool shape")
def create_user_pool(target: Target) -> None:
    kit = Kit(target)
    check(POOL_ID.match(kit.pool_id), f"pool id {kit.pool_id!r} is not <region>_<id>")
    check(kit.pool_id.startswith("us-east-1_"), f"pool id {kit.pool_id!r} not of the region")
    equal(kit.pool["Arn"].split(":")[2], "cognito-idp", "pool Arn service")
    check(kit.pool["Arn"].endswith(f"userpool/{kit.pool_id}"), f"Arn {kit.pool['Arn']!r}")
    names = {a["Name"] for a in kit.pool["SchemaAttributes"]}
    check({"sub", "email", "custom:tenant_id"} <= names, f"SchemaAttributes names {names}")


@rows.row("boto3.describe_user_pool", "DescribeUserPool returns what was created")
def describe_user_pool(target: Target) -> None:
    kit = Kit(target, Policies={"PasswordPolicy": {"MinimumLength": 12}})
    pool = kit.admin.describe_user_pool(UserPoolId=kit.pool_id)["UserPool"]
    equal(pool["Id"], kit.pool_id, "Id")
    equal(pool["Name"], kit.pool["Name"], "Name")
    equal(pool["Policies"]["PasswordPolicy"]["MinimumLength"], 12, "MinimumLength")
    equal(pool.get("MfaConfiguration"), "OFF", "MfaConfiguration")


@rows.row("boto3.describe_user_pool.unknown", "an unknown pool is ResourceNotFoundException")
def describe_unknown_pool(target: Target) -> None:
    with cognito_error("ResourceNotFoundException"):
        target.admin().describe_user_pool(UserPoolId="us-east-1_NoSuchPool")


@rows.row("boto3.list_user_pools", "ListUserPools lists a new pool")
def list_user_pools(target: Target) -> None:
    kit = Kit(target)
    pages = kit.admin.get_paginator("list_user_pools").paginate(
        MaxResults=60, PaginationConfig={"PageSize": 60}
    )
    ids = [p["Id"] for page in pages for p in page["UserPools"]]
    check(kit.pool_id in ids, f"{kit.pool_id} not listed")


@rows.row("boto3.paginate.list_user_pools", "the ListUserPools paginator walks pages of 1")
def paginate_user_pools(target: Target) -> None:
    kits = [Kit(target) for _ in range(3)]
    pages = list(
        kits[0]
        .admin.get_paginator("list_user_pools")
        .paginate(MaxResults=1, PaginationConfig={"PageSize": 1})
    )
    check(all(len(p["UserPools"]) <= 1 for p in pages), "a page holds more than MaxResults")
    ids = [p["Id"] for page in pages for p in page["UserPools"]]
    check({k.pool_id for k in kits} <= set(ids), "paginator missed a pool")
    equal(len(ids), len(set(ids)), "pools listed twice")


@rows.row("boto3.update_user_pool", "UpdateUserPool changes the policy; DescribeUserPool shows it")
def update_user_pool(target: Target) -> None:
    kit = Kit(target)
    kit.admin.update_user_pool(
        UserPoolId=kit.pool_id,
        Policies={"PasswordPolicy": {"MinimumLength": 16, "RequireSymbols": False}},
        AutoVerifiedAttributes=["email"],
    )
    pool = kit.admin.describe_user_pool(UserPoolId=kit.pool_id)["UserPool"]
    equal(pool["Policies"]["PasswordPolicy"]["MinimumLength"], 16, "MinimumLength")
    equal(pool.get("AutoVerifiedAttributes"), ["email"], "AutoVerifiedAttributes")
    with cognito_error("InvalidPasswordException"):
        kit.admin.admin_set_user_password(
            UserPoolId=kit.pool_id,
            Username=kit.person().username,
            Password="Short-1aA",
            Permanent=True,
        )


@rows.row("boto3.delete_user_pool", "DeleteUserPool removes the pool")
def delete_user_pool(target: Target) -> None:
    kit = Kit(target)
    kit.admin.delete_user_pool(UserPoolId=kit.pool_id)
    with cognito_error("ResourceNotFoundException"):
        kit.admin.describe_user_pool(UserPoolId=kit.pool_id)


@rows.row("boto3.delete_user_pool.protected", "DeletionProtection ACTIVE refuses DeleteUserPool")
def delete_protected_pool(target: Target) -> None:
    kit = Kit(target, DeletionProtection="ACTIVE")
    with cognito_error("InvalidParameterException"):
        kit.admin.delete_user_pool(UserPoolId=kit.pool_id)
    kit.admin.describe_user_pool(UserPoolId=kit.pool_id)


@rows.row("boto3.create_user_pool_client", "CreateUserPoolClient with a secret")
def create_client(target: Target) -> None:
    kit = Kit(target)
    created = kit.admin.create_user_pool_client(
        UserPoolId=kit.pool_id, ClientName="backend", GenerateSecret=True
    )["UserPoolClient"]
    check(re.fullmatch(r"[\w+]{1,128}", created["ClientId"]), "ClientId shape")
    check(len(created.get("ClientSecret", "")) >= 32, "ClientSecret missing or short")
    equal(created["UserPoolId"], kit.pool_id, "UserPoolId")
    equal(
        sorted(created.get("ExplicitAuthFlows", [])),
        ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"],
        "default ExplicitAuthFlows",
    )


@rows.row("boto3.create_user_pool_client.unknown_pool", "a client of an unknown pool")
def create_client_unknown_pool(target: Target) -> None:
    with cognito_error("ResourceNotFoundException"):
        target.admin().create_user_pool_client(UserPoolId="us-east-1_NoSuchPool", ClientName="x")


@rows.row("boto3.create_user_pool_client.unknown_scope", "scopes no resource server defines")
def create_client_unknown_scope(target: Target) -> None:
    kit = Kit(target)
    with cognito_error("ScopeDoesNotExistException"):
        kit.machine(["nowhere/read"])


@rows.row("boto3.describe_user_pool_client", "DescribeUserPoolClient shows settings and secret")
def describe_client(target: Target) -> None:
    kit = Kit(target)
    app = kit.app(secret=True, AccessTokenValidity=2, TokenValidityUnits={"AccessToken": "hours"})
    client = kit.admin.describe_user_pool_client(UserPoolId=kit.pool_id, ClientId=app.id)[
        "UserPoolClient"
    ]
    equal(client["ClientId"], app.id, "ClientId")
    equal(client.get("ClientSecret"), app.secret, "ClientSecret")
    seconds = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
    unit = client.get("TokenValidityUnits", {}).get("AccessToken", "hours")
    equal(client["AccessTokenValidity"] * seconds[unit], 7200, "access validity in seconds")


@rows.row("boto3.describe_user_pool_client.unknown", "an unknown client")
def describe_unknown_client(target: Target) -> None:
    kit = Kit(target)
    with cognito_error("ResourceNotFoundException"):
        kit.admin.describe_user_pool_client(UserPoolId=kit.pool_id, ClientId="nosuchclient1234")


@rows.row("boto3.update_user_pool_client", "UpdateUserPoolClient sets and resets settings")
def update_client(target: Target) -> None:
    kit = Kit(target)
    app = kit.app(CallbackURLs=["https://app.example.com/cb"])
    kit.admin.update_user_pool_client(
        UserPoolId=kit.pool_id,
        ClientId=app.id,
        ClientName="renamed",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    client = kit.admin.describe_user_pool_client(UserPoolId=kit.pool_id, ClientId=app.id)[
        "UserPoolClient"
    ]
    equal(client["ClientName"], "renamed", "ClientName")
    equal(
        sorted(client["ExplicitAuthFlows"]),
        ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"],
        "ExplicitAuthFlows",
    )
    # Cognito's UpdateUserPoolClient resets every setting the request omits.
    check(
        not client.get("CallbackURLs"), f"omitted CallbackURLs kept: {client.get('CallbackURLs')}"
    )


@rows.row("boto3.list_user_pool_clients", "ListUserPoolClients through its paginator")
def list_clients(target: Target) -> None:
    kit = Kit(target)
    made = {kit.app().id for _ in range(3)}
    pages = list(
        kit.admin.get_paginator("list_user_pool_clients").paginate(
            UserPoolId=kit.pool_id, PaginationConfig={"PageSize": 2}
        )
    )
    listed = [c["ClientId"] for page in pages for c in page["UserPoolClients"]]
    equal(sorted(listed), sorted(made), "clients listed")
    check(len(pages) >= 2, f"3 clients in pages of 2 came in {len(pages)} page(s)")


@rows.row("boto3.delete_user_pool_client", "DeleteUserPoolClient; its sign-in stops")
def delete_client(target: Target) -> None:
    kit = Kit(target)
    app = kit.app()
    person = kit.person()
    kit.admin.delete_user_pool_client(UserPoolId=kit.pool_id, ClientId=app.id)
    with cognito_error("ResourceNotFoundException"):
        kit.admin.describe_user_pool_client(UserPoolId=kit.pool_id, ClientId=app.id)
    with cognito_error("ResourceNotFoundException"):
        kit.sign_in(app, person)


@rows.row("boto3.create_resource_server", "CreateResourceServer and DescribeResourceServer")
def create_resource_server(target: Target) -> None:
    kit = Kit(target)
    created = kit.admin.create_resource_server(
        UserPoolId=kit.pool_id,
        Identifier="https://api.example.com",
        Name="api",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "read things"}],
    )["ResourceServer"]
    equal(created["Identifier"], "https://api.example.com", "Identifier")
    described = kit.admin.describe_resource_server(
        UserPoolId=kit.pool_id, Identifier="https://api.example.com"
    )["ResourceServer"]
    equal(described["Scopes"], [{"ScopeName": "read", "ScopeDescription": "read things"}], "Scopes")


@rows.row("boto3.create_resource_server.duplicate", "the same identifier twice")
def duplicate_resource_server(target: Target) -> None:
    kit = Kit(target)
    kit.resource_server()
    with cognito_error("InvalidParameterException"):
        kit.resource_server()


@rows.row("boto3.list_resource_servers", "ListResourceServers through its paginator")
def list_resource_servers(target: Target) -> None:
    kit = Kit(target)
    for name in ("a", "b", "c"):
        kit.resource_server(name)
    pages = kit.admin.get_paginator("list_resource_servers").paginate(
        UserPoolId=kit.pool_id, PaginationConfig={"PageSize": 2}
    )
    listed = sorted(s["Identifier"] for page in pages for s in page["ResourceServers"])
    equal(listed, ["a", "b", "c"], "resource servers")


@rows.row("boto3.update_resource_server", "UpdateResourceServer replaces the scopes")
def update_resource_server(target: Target) -> None:
    kit = Kit(target)
    kit.resource_server("api", ("read",))
    kit.admin.update_resource_server(
        UserPoolId=kit.pool_id,
        Identifier="api",
        Name="API",
        Scopes=[{"ScopeName": "write", "ScopeDescription": "write"}],
    )
    server = kit.admin.describe_resource_server(UserPoolId=kit.pool_id, Identifier="api")[
        "ResourceServer"
    ]
    equal(server["Name"], "API", "Name")
    equal([s["ScopeName"] for s in server["Scopes"]], ["write"], "scopes")


@rows.row("boto3.delete_resource_server", "DeleteResourceServer")
def delete_resource_server(target: Target) -> None:
    kit = Kit(target)
    kit.resource_server("api")
    kit.admin.delete_resource_server(UserPoolId=kit.pool_id, Identifier="api")
    with cognito_error("ResourceNotFoundException"):
        kit.admin.describe_resource_server(UserPoolId=kit.pool_id, Identifier="api")


@rows.row("boto3.admin.unsigned", "an admin operation without a signature is refused")
def unsigned_admin(target: Target) -> None:
    with cognito_error("MissingAuthenticationTokenException"):
        target.public().create_user_pool(PoolName=unique("nope-"))


@rows.row("boto3.admin.wrong_key", "an admin operation signed with unknown credentials")
def wrong_key_admin(target: Target) -> None:
    stranger = Target(
        target.name,
        target.url,
        "AKIAUNKNOWN000000000",
        "not-the-secret",
        target.issuer_base,
        target.read_code,
    )
    with cognito_error("UnrecognizedClientException"):
        stranger.admin().create_user_pool(PoolName=unique("nope-"))
