"""Tables of the token service. Times are UNIX seconds (float), as Cognito's JSON API sends them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Pool(Base):
    __tablename__ = "user_pools"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    region: Mapped[str] = mapped_column(String(32))
    password_policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Full names of the custom attributes the pool accepts, e.g. "custom:tenant_id".
    custom_attributes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # Columns added after the first release are nullable: `Store` adds them to older
    # databases, and None means Cognito's default for a new pool.
    # "OFF" (None), "OPTIONAL" or "ON".
    mfa_configuration: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Cognito's AutoVerifiedAttributes: "email" and/or "phone_number".
    auto_verified_attributes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # Cognito's UsernameAttributes ("email", "phone_number"): users sign in with those.
    username_attributes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # AdminCreateUserConfig.AllowAdminCreateUserOnly: SignUp is refused when true.
    admin_create_only: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # "ACTIVE" or "INACTIVE" (None): an active pool cannot be deleted.
    deletion_protection: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Settings kept and described as given, without behaviour of their own here
    # (VerificationMessageTemplate, AccountRecoverySetting, UserPoolTags, ...).
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Client(Base):
    __tablename__ = "app_clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    # AES-GCM sealed secret (SECRET_HASH verification needs the secret itself); None = public.
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    explicit_auth_flows: Mapped[list[str]] = mapped_column(JSON)
    oauth_flows: Mapped[list[str]] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    access_token_seconds: Mapped[int] = mapped_column(Integer)
    id_token_seconds: Mapped[int] = mapped_column(Integer)
    refresh_token_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # Browser sign-in (exact-match redirect targets) and federation, as Cognito names them.
    callback_urls: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    logout_urls: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    default_redirect_uri: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    supported_identity_providers: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    read_attributes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    write_attributes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # "ENABLED" (None, Cognito's default for new clients) or "LEGACY".
    prevent_user_existence_errors: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Cognito's RefreshTokenRotation: {"Feature": "ENABLED"|"DISABLED", "RetryGracePeriodSeconds": n}.
    refresh_rotation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # AuthSessionValidity in minutes (3 to 15): how long a challenge's Session lives.
    auth_session_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Settings kept and described as given (AnalyticsConfiguration, ...).
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ResourceServer(Base):
    __tablename__ = "resource_servers"

    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(256), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    # [{"ScopeName": ..., "ScopeDescription": ...}]
    scopes: Mapped[list[dict[str, str]]] = mapped_column(JSON)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("pool_id", "username_key"),)

    sub: Mapped[str] = mapped_column(String(36), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), index=True)
    username: Mapped[str] = mapped_column(String(128))
    # Usernames match case-insensitively, as in new Cognito pools.
    username_key: Mapped[str] = mapped_column(String(128))
    # Every attribute but `sub`, e.g. {"email": ..., "email_verified": "true", "custom:x": ...}.
    attributes: Mapped[dict[str, str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # SRP-6a salt (hex) and verifier (AES-GCM sealed, base64), derived whenever a password is
    # set: an argon2 hash cannot answer SRP. None for users whose password predates SRP support.
    srp_salt: Mapped[str | None] = mapped_column(String(64), nullable=True)
    srp_verifier: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    # Cognito's UserMFASettingList and PreferredMfaSetting, e.g. ["SOFTWARE_TOKEN_MFA"].
    mfa_enabled: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    mfa_preferred: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Group(Base):
    __tablename__ = "groups"

    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    precedence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # Cognito's RoleArn, kept and described (no identity pool here assumes it).
    role_arn: Mapped[str | None] = mapped_column(String(2048), nullable=True)


class Membership(Base):
    __tablename__ = "group_memberships"

    pool_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_sub: Mapped[str] = mapped_column(ForeignKey("users.sub"), primary_key=True)


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), index=True)
    private_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[float] = mapped_column(Float)
    # Set at rotation: after this moment no token the key signed is still valid.
    retire_after: Mapped[float | None] = mapped_column(Float, nullable=True)


class RefreshToken(Base):
    """One sign-in: its refresh token (hashed) and the origin_jti its access tokens carry."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin_jti: Mapped[str] = mapped_column(String(36), unique=True)
    pool_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    user_sub: Mapped[str] = mapped_column(String(36), index=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # How the user authenticated at this sign-in (RFC 8176 values: "pwd", "mfa", "otp").
    amr: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # Refresh-token rotation: the token this one replaced stays usable until then.
    previous_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    previous_valid_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class RetiredRefreshToken(Base):
    """A refresh token replaced by rotation: presented again, it revokes its whole sign-in.

    Kept until the sign-in itself would have expired.
    """

    __tablename__ = "retired_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin_jti: Mapped[str] = mapped_column(String(36), index=True)
    pool_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_sub: Mapped[str] = mapped_column(String(36), index=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class SignInFailures(Base):
    """Failed sign-ins per pool and username, whether or not the user exists (no enumeration)."""

    __tablename__ = "sign_in_failures"

    pool_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[float] = mapped_column(Float)


class TotpFactor(Base):
    """A user's authenticator-app secret: pending until verified once with a code."""

    __tablename__ = "totp_factors"

    user_sub: Mapped[str] = mapped_column(ForeignKey("users.sub"), primary_key=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    verified: Mapped[bool] = mapped_column(Boolean)
    friendly_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The last 30-second step a code was accepted for: no code is accepted twice.
    last_step: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)


class VerificationCode(Base):
    """A one-time code sent to a user (sign-up, password reset, attribute verification).

    Only its hash is kept; it expires, is single-use, and wrong guesses are counted.
    """

    __tablename__ = "verification_codes"

    user_sub: Mapped[str] = mapped_column(ForeignKey("users.sub"), primary_key=True)
    # "signup", "forgot_password", or "verify:<attribute>".
    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)


class OutboxMessage(Base):
    """A message delivered (or to be delivered) to a user: the embedded default's mailbox."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(String(64), index=True)
    # "EMAIL" or "SMS", and the address it went to.
    medium: Mapped[str] = mapped_column(String(8))
    destination: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(String(8192))
    # "outbox" (kept here only) or "smtp" (sent), and when; indexed for pruning by age.
    delivered_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float, index=True)
    # "pending" (written, not yet sent), "sent" or "failed"; None in rows of older releases,
    # which were all sent.
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)


class UsedNonce(Base):
    """Single-use values (SRP secret blocks, challenge sessions) seen before their expiry."""

    __tablename__ = "used_nonces"

    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class AuthorizationCode(Base):
    """An OAuth authorization code (hashed): single-use, short-lived, bound to its request."""

    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    user_sub: Mapped[str] = mapped_column(String(36), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    # RFC 7636 S256 challenge; None only for confidential clients that sent none.
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    nonce: Mapped[str | None] = mapped_column(String(512), nullable=True)
    # How and when the user authenticated in the hosted session the code came from.
    amr: Mapped[list[str]] = mapped_column(JSON)
    auth_time: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)
    # Set at redemption, with the sign-in it created: a second use revokes that sign-in.
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    origin_jti: Mapped[str | None] = mapped_column(String(36), nullable=True)


class HostedSession(Base):
    """A browser's sign-in at the hosted login, keyed by the hash of its cookie value."""

    __tablename__ = "hosted_sessions"

    cookie_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_id: Mapped[str] = mapped_column(String(64))
    user_sub: Mapped[str] = mapped_column(String(36), index=True)
    amr: Mapped[list[str]] = mapped_column(JSON)
    auth_time: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class PartnerSecret(Base):
    """An HS256 secret issued to a partner for sign-in links to one app client (sealed)."""

    __tablename__ = "partner_secrets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pool_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # Longest lifetime (exp - iat) a link signed with this secret may claim.
    max_link_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class SignInEvent(Base):
    """A sign-in event (API or hosted): attempt, failure, MFA step, refresh failure,
    sign-out, session start or end, link use."""

    __tablename__ = "sign_in_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(8))
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_sub: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    username: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # The AuthFlow, ChallengeName or grant of an API event (None at the hosted pages).
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)


class IdentityProvider(Base):
    """A partner identity provider registered on a pool (Cognito's CreateIdentityProvider)."""

    __tablename__ = "identity_providers"

    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), primary_key=True)
    # Cognito's ProviderName: the prefix of its users' names and the `identity_provider` value.
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # "OIDC" or "SAML".
    type: Mapped[str] = mapped_column(String(16))
    # ProviderDetails as DescribeIdentityProvider shows them: never the client secret.
    details: Mapped[dict[str, str]] = mapped_column(JSON)
    # The OIDC client_secret, sealed; None for public clients and SAML.
    client_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Pool attribute -> IdP claim or SAML attribute; "username" names the identifying claim.
    attribute_mapping: Mapped[dict[str, str]] = mapped_column(JSON)
    # Cognito's IdpIdentifiers: names an app may route by, and email domains the login page routes.
    identifiers: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class FederatedIdentity(Base):
    """One partner identity and the pool user it signs in as (an entry of Cognito's `identities`)."""

    __tablename__ = "federated_identities"

    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), primary_key=True)
    provider_name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The IdP's value of the claim AttributeMapping maps `username` to (default `sub`).
    provider_subject: Mapped[str] = mapped_column(String(256), primary_key=True)
    user_sub: Mapped[str] = mapped_column(ForeignKey("users.sub"), index=True)
    # "sign_in" (a user made at first sign-in), "email" (linked on a verified email) or
    # "admin" (AdminLinkProviderForUser).
    linked_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    # AdminDisableProviderForUser: the identity signs in as no one from then on.
    disabled_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class FederationTrip(Base):
    """A browser's trip to a partner IdP and back, keyed by the hash of its `state`/RelayState.

    Kept here rather than in the state itself: SAML limits RelayState to 80 bytes, and a
    row is single-use by deletion.
    """

    __tablename__ = "federation_trips"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_id: Mapped[str] = mapped_column(String(64))
    provider_name: Mapped[str] = mapped_column(String(32))
    # Our /oauth2/authorize query, to resume the app's request after the IdP.
    authorize_query: Mapped[dict[str, str]] = mapped_column(JSON)
    # The OIDC nonce, or the SAML AuthnRequest ID that InResponseTo must name.
    nonce: Mapped[str] = mapped_column(String(256))
    # The OIDC PKCE verifier, sealed; None for SAML.
    code_verifier_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Hash of the browser cookie the trip is bound to (no login CSRF).
    browser_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class IdentityPool(Base):
    """A Cognito Identity pool: who may get an identity id and OpenID token, through which logins."""

    __tablename__ = "identity_pools"

    # "<region>:<uuid>", as Cognito Identity names pools.
    id: Mapped[str] = mapped_column(String(55), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    allow_unauthenticated: Mapped[bool] = mapped_column(Boolean)
    allow_classic_flow: Mapped[bool] = mapped_column(Boolean)
    # The provider name developer logins are keyed by; set once, never changed.
    developer_provider_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # [{"ProviderName", "ClientId", "ServerSideTokenCheck"}]: user pools whose ID tokens log in.
    cognito_identity_providers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # SupportedLoginProviders, OpenIdConnectProviderARNs, SamlProviderARNs and
    # IdentityPoolTags: kept and described as given.
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Identity(Base):
    """An identity id of an identity pool ("<region>:<uuid>"); without logins it is a guest."""

    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(String(55), primary_key=True)
    identity_pool_id: Mapped[str] = mapped_column(ForeignKey("identity_pools.id"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class IdentityLogin(Base):
    """A login linked to an identity: a developer user id or a user pool's `sub`.

    One login belongs to at most one identity of a pool.
    """

    __tablename__ = "identity_logins"

    identity_pool_id: Mapped[str] = mapped_column(ForeignKey("identity_pools.id"), primary_key=True)
    # The Logins key: the developer provider name or a user pool provider name.
    provider: Mapped[str] = mapped_column(String(128), primary_key=True)
    login_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id"), index=True)
    created_at: Mapped[float] = mapped_column(Float)


class IdentitySigningKey(Base):
    """A signing key of the identity issuer (the OpenID tokens of every identity pool)."""

    __tablename__ = "identity_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[float] = mapped_column(Float)
    retire_after: Mapped[float | None] = mapped_column(Float, nullable=True)


class SamlSigningKey(Base):
    """A pool's SAML service-provider key pair: it signs our AuthnRequests, and its
    certificate is in the pool's SP metadata so IdPs can check them. The private key is sealed."""

    __tablename__ = "saml_signing_keys"

    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), primary_key=True)
    private_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_pem: Mapped[str] = mapped_column(String(4096))
    created_at: Mapped[float] = mapped_column(Float)


class SamlSession(Base):
    """How the IdP knows a hosted session that began with a SAML assertion: its NameID and
    SessionIndex, for the LogoutRequest `/logout` sends when the provider has IDPSignout."""

    __tablename__ = "saml_sessions"

    # The hosted session's key (the SHA-256 of its cookie).
    cookie_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), index=True)
    provider_name: Mapped[str] = mapped_column(String(32))
    name_id: Mapped[str] = mapped_column(String(1024))
    name_id_format: Mapped[str | None] = mapped_column(String(256), nullable=True)
    session_index: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # Set when `/logout` sent the LogoutRequest: its ID (the IdP's LogoutResponse names it in
    # InResponseTo) and where the browser goes once the IdP answered.
    logout_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    logout_target: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
