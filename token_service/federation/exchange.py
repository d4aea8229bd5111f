"""RFC 8693 token exchange at `POST /oauth2/token`: a partner's token for ours.

An app client presents an access or ID token its user got from a partner IdP registered on
the pool (`subject_token`); the token is verified against that IdP (partner_token), the
partner identity signs in as its linked or new user (linking), and the answer is our tokens:
an access token (`issued_token_type` access_token), an ID token when `openid` is granted, and
a refresh token, as a Cognito sign-in through that IdP would get. Delegation (`actor_token`),
`audience` and `resource` are not supported and say so. A refused exchange writes nothing
but its sign-in event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from token_service import events
from token_service.core import Core
from token_service.errors import InvalidGrant, InvalidParameter, InvalidScope, TokenServiceError
from token_service.federation.linking import ExternalIdentity, sign_in_external, sign_in_methods
from token_service.federation.partner_token import (
    PartnerToken,
    PartnerTokens,
    choose_provider,
    read_token,
)
from token_service.federation.providers import IdentityProviders
from token_service.issue import Issuer, UserTokens
from token_service.store.models import Client
from token_service.store.retry import retrying

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TOKEN_TYPES = frozenset(
    {
        ACCESS_TOKEN_TYPE,
        "urn:ietf:params:oauth:token-type:id_token",
        "urn:ietf:params:oauth:token-type:jwt",
    }
)
# A JWT larger than this is no partner's access or ID token.
MAX_SUBJECT_TOKEN = 16_384
STEP = "token_exchange"


class InvalidTarget(TokenServiceError):
    """RFC 8693 2.2.2: the `audience` or `resource` asked for is not one we issue for."""

    cognito_type = "InvalidParameterException"
    oauth_error = "invalid_target"


@dataclass(frozen=True)
class ExchangeRequest:
    subject_token: str
    scopes: list[str] | None


@dataclass(frozen=True)
class Exchanged:
    tokens: UserTokens
    scopes: list[str]


def parse_request(form: Mapping[str, str]) -> ExchangeRequest:
    """The exchange's parameters, each refused with the name of the one that is wrong."""
    if form.get("actor_token") or form.get("actor_token_type"):
        raise InvalidParameter("actor_token: delegation is not supported.")
    for name in ("audience", "resource"):
        if name in form:
            raise InvalidTarget(f"{name} is not supported: ask for scopes instead.")
    requested = form.get("requested_token_type")
    if requested is not None and requested != ACCESS_TOKEN_TYPE:
        raise InvalidParameter(f"requested_token_type: only {ACCESS_TOKEN_TYPE} is issued.")
    token = form.get("subject_token", "")
    if not token:
        raise InvalidParameter("subject_token is required.")
    if len(token) > MAX_SUBJECT_TOKEN:
        raise InvalidParameter(f"subject_token is longer than {MAX_SUBJECT_TOKEN} characters.")
    if not token.isascii():
        raise InvalidParameter("subject_token is not a JWT.")
    token_type = form.get("subject_token_type")
    if not token_type:
        raise InvalidParameter("subject_token_type is required.")
    if token_type not in SUBJECT_TOKEN_TYPES:
        raise InvalidParameter("subject_token_type: an access_token, id_token or jwt is required.")
    scope = form.get("scope")
    return ExchangeRequest(token, scope.split() if scope else None)


def granted_scopes(client: Client, requested: list[str] | None) -> list[str]:
    """The requested scopes, all the client's; none asked, all of them (as /oauth2/authorize)."""
    scopes = requested if requested is not None else list(client.scopes)
    if not scopes or not set(scopes) <= set(client.scopes):
        raise InvalidScope("A requested scope is not allowed for this client.")
    return list(dict.fromkeys(scopes))


class TokenExchange:
    def __init__(
        self, core: Core, issuer: Issuer, providers: IdentityProviders, tokens: PartnerTokens
    ) -> None:
        self.core = core
        self.issuer = issuer
        self.providers = providers
        self.partner_tokens = tokens

    def exchange(
        self,
        client_id: str,
        secret: str | None,
        form: Mapping[str, str],
        context: events.RequestContext,
    ) -> Exchanged:
        """Read the request and the candidate providers, verify the token (its keys fetched
        between transactions), then sign in and issue in one transaction with the event."""
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client = self.issuer.oauth_client(repo, client_id, secret)
            request = parse_request(form)
            scopes = granted_scopes(client, request.scopes)
            token = read_token(request.subject_token)
            candidates = self.providers.by_issuer(repo, client.pool_id, token.issuer, token.tenant)
        # The partner's keys are fetched outside any transaction: no lock waits on the network.
        partner = self.partner_tokens.verify(token, candidates, client, now)
        return retrying(lambda: self._sign_in(client_id, secret, partner, scopes, context, now))

    def _sign_in(
        self,
        client_id: str,
        secret: str | None,
        partner: PartnerToken,
        scopes: list[str],
        context: events.RequestContext,
        now: float,
    ) -> Exchanged:
        """The verified identity's user and tokens; a concurrent first exchange of the same
        identity makes this one lose its commit, and its retry then finds that user."""
        with self.core.store.transaction() as repo:
            client = self.issuer.oauth_client(repo, client_id, secret)
            # The provider and the client as they are now, in case either changed meanwhile.
            provider = self.providers.get(repo, client.pool_id, partner.provider.name)
            if provider is None or provider != partner.provider:
                raise InvalidGrant("subject_token refused: its identity provider just changed.")
            choose_provider([provider], client, partner.claims)
            identity = ExternalIdentity(
                provider=provider,
                subject=partner.subject,
                claims=partner.claims,
                email_verified=partner.claims.get("email_verified") in (True, "true"),
            )
            user = sign_in_external(repo, identity, now)
            amr = sign_in_methods(partner.claims)
            tokens = self.issuer.issue_user_tokens(
                repo, client, user, now, None, amr, scopes=scopes
            )
            events.record(
                repo,
                now,
                context,
                client.pool_id,
                events.SIGN_IN,
                events.PASS,
                client_id=client.id,
                user_sub=user.sub,
                username=user.username,
                reason=" ".join(amr),
                step=STEP,
            )
            return Exchanged(tokens, scopes)

    @staticmethod
    def response(exchanged: Exchanged) -> dict[str, Any]:
        """RFC 8693 section 2.2.1, with Cognito's ID and refresh tokens."""
        tokens = exchanged.tokens
        body: dict[str, Any] = {
            "access_token": tokens.access_token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "scope": " ".join(exchanged.scopes),
        }
        if "openid" in exchanged.scopes:
            body["id_token"] = tokens.id_token
        body["refresh_token"] = tokens.refresh_token
        return body
