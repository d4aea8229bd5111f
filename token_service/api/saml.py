"""The SAML endpoints: the assertion consumer service, single logout, each pool's SP metadata.

`POST /saml2/idpresponse` takes the IdP's HTTP-POST binding form (`SAMLResponse`,
`RelayState`) and the trip's cookie; `SamlSignIn` decides. `GET /saml2/post` posts our
AuthnRequest to an IdP that takes the HTTP-POST binding only. `GET /saml2/logout` takes the
IdP's LogoutResponse after `/logout` sent our LogoutRequest. `GET /{pool_id}/saml2/metadata`
is the document a partner's IdP administrator imports to trust the pool.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from token_service.api.federation import _relay_cookie, onward
from token_service.api.hosted import _refused, _services, _visit
from token_service.api.oauth2 import read_form
from token_service.errors import ResourceNotFound, TokenServiceError
from token_service.hosted.pages import redirect, render

router = APIRouter()


@router.post("/saml2/idpresponse")
async def idp_response(request: Request) -> Response:
    """Where the partner SAML IdP posts the browser back (HTTP-POST binding); the browser
    moves on to the app from a page, as from `/oauth2/idpresponse`."""
    try:
        form = await read_form(request)
    except TokenServiceError as error:
        return _refused(error)
    services = _services(request)
    visit, relay = _visit(request), _relay_cookie(request)
    saml_response, relay_state = form.get("SAMLResponse", ""), form.get("RelayState", "")
    return await onward(
        request,
        lambda: services.saml.respond(
            services.federation, saml_response, relay_state, visit, relay
        ),
    )


@router.get("/saml2/post")
async def post_to_idp(request: Request) -> Response:
    """The page that posts our AuthnRequest to an IdP taking the HTTP-POST binding only: its
    form may go to that IdP alone, and its one script (which submits it) runs under the
    page's nonce; the button does the same without script."""
    saml = _services(request).saml
    try:
        form = await run_in_threadpool(saml.post_form, request.query_params.get("request", ""))
    except TokenServiceError as error:
        return _refused(error)
    response = render(
        "saml_post.html",
        None,
        form_targets=[form.action],
        action=form.action,
        saml_request=form.saml_request,
        relay_state=form.relay_state,
    )
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    if nonce is not None:
        response.headers["Content-Security-Policy"] = f"{policy}; script-src 'nonce-{nonce[1]}'"
    return response


@router.get("/saml2/logout")
async def logged_out(request: Request) -> Response:
    """Where the IdP sends the browser back after our LogoutRequest (HTTP-Redirect binding)."""
    sign_out = _services(request).saml.sign_out
    try:
        target = await run_in_threadpool(sign_out.logged_out, request.url.query)
    except TokenServiceError as error:
        return _refused(error)
    return redirect(target)


@router.get("/{pool_id}/saml2/metadata")
async def metadata(pool_id: str, request: Request) -> Response:
    """The pool's SAML SP metadata: entity id, ACS, the certificate of its AuthnRequests."""
    try:
        document = await run_in_threadpool(_services(request).saml.metadata, pool_id)
    except ResourceNotFound as error:
        return JSONResponse(
            {"__type": error.cognito_type, "message": error.message}, status_code=404
        )
    return Response(document, media_type="application/samlmetadata+xml")
