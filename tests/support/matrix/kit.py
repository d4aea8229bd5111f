"""Provisioning a row needs, done through boto3 as a backend would: fresh pools, clients, users.

Every row makes its own pool, so rows stay independent and can run in any order, against any
endpoint, without cleaning up after each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.matrix.core import PASSWORD, Target, cognito_error, secret_hash, unique

PASSWORD_FLOWS = [
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
]


@dataclass(frozen=True)
class App:
    """An app client: its id and, for a confidential client, its secret."""

    id: str
    secret: str | None = None

    def hash(self, username: str) -> dict[str, str]:
        """The SECRET_HASH auth parameter this client needs for `username` (none if public)."""
        return {"SECRET_HASH": secret_hash(username, self.id, self.secret)} if self.secret else {}


@dataclass(frozen=True)
class Person:
    username: str
    email: str
    sub: str
    password: str = PASSWORD


class Kit:
    """One row's pool and helpers, all made through the target's admin API."""

    def __init__(self, target: Target, **pool_settings: Any) -> None:
        self.target = target
        self.admin = target.admin()
        self.public = target.public()
        created = self.admin.create_user_pool(
            PoolName=unique("matrix-"),
            Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
            **pool_settings,
        )["UserPool"]
        self.pool_id: str = created["Id"]
        self.pool: dict[str, Any] = created

    def app(self, *, secret: bool = False, flows: list[str] | None = None, **settings: Any) -> App:
        created = self.admin.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName=unique("app-"),
            GenerateSecret=secret,
            ExplicitAuthFlows=PASSWORD_FLOWS if flows is None else flows,
            **settings,
        )["UserPoolClient"]
        return App(created["ClientId"], created.get("ClientSecret"))

    def person(
        self,
        username: str | None = None,
        *,
        password: str | None = PASSWORD,
        temporary: str | None = None,
        **attributes: str,
    ) -> Person:
        """A user made by AdminCreateUser; with `password`, set permanent (CONFIRMED)."""
        username = username or unique("user-")
        email = f"{username}@example.com"
        given = {"email": email, "email_verified": "true", **attributes}
        created = self.admin.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            UserAttributes=[{"Name": k, "Value": v} for k, v in given.items()],
            MessageAction="SUPPRESS",
            **({"TemporaryPassword": temporary} if temporary else {}),
        )["User"]
        if password is not None and temporary is None:
            self.admin.admin_set_user_password(
                UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True
            )
        sub = next(a["Value"] for a in created["Attributes"] if a["Name"] == "sub")
        return Person(username, email, sub, password or "")

    def initiate(self, app: App, person: Person, password: str | None = None) -> dict[str, Any]:
        """USER_PASSWORD_AUTH through InitiateAuth: the whole answer (tokens or a challenge)."""
        return self.public.initiate_auth(
            ClientId=app.id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={
                "USERNAME": person.username,
                "PASSWORD": password or person.password,
                **app.hash(person.username),
            },
        )

    def sign_in(self, app: App, person: Person, password: str | None = None) -> dict[str, Any]:
        """USER_PASSWORD_AUTH through InitiateAuth; the AuthenticationResult."""
        return self.initiate(app, person, password)["AuthenticationResult"]

    def admin_initiate(
        self,
        app: App,
        person: Person,
        password: str | None = None,
        flow: str = "ADMIN_USER_PASSWORD_AUTH",
    ) -> dict[str, Any]:
        """AdminInitiateAuth with a password flow: the whole answer."""
        return self.admin.admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=app.id,
            AuthFlow=flow,
            AuthParameters={
                "USERNAME": person.username,
                "PASSWORD": password or person.password,
                **app.hash(person.username),
            },
        )

    def refresh(self, app: App, token: str, person: Person | None = None) -> dict[str, Any]:
        """REFRESH_TOKEN_AUTH through InitiateAuth: the whole answer."""
        hashed = app.hash(person.username) if person else {}
        return self.public.initiate_auth(
            ClientId=app.id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": token, **hashed},
        )

    def signed_out(self, app: App, tokens: dict[str, Any], person: Person) -> None:
        """The sign-in's access token fails GetUser and its refresh token fails to refresh."""
        with cognito_error("NotAuthorizedException"):
            self.public.get_user(AccessToken=tokens["AccessToken"])
        with cognito_error("NotAuthorizedException"):
            self.refresh(app, tokens["RefreshToken"], person)

    def group(self, name: str | None = None, **settings: Any) -> str:
        name = name or unique("group-")
        self.admin.create_group(UserPoolId=self.pool_id, GroupName=name, **settings)
        return name

    def resource_server(
        self, identifier: str = "pdp", scopes: tuple[str, ...] = ("decide",)
    ) -> str:
        self.admin.create_resource_server(
            UserPoolId=self.pool_id,
            Identifier=identifier,
            Name=identifier,
            Scopes=[{"ScopeName": s, "ScopeDescription": s} for s in scopes],
        )
        return identifier

    def machine(self, scopes: list[str]) -> App:
        """A confidential client allowed client_credentials for `scopes`."""
        return self.app(
            secret=True,
            flows=[],
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthScopes=scopes,
            AllowedOAuthFlowsUserPoolClient=True,
        )

    def code(self, destination: str) -> str:
        return self.target.read_code(self.pool_id, destination)
