"""HTTP layer of ZIA's SAML service provider.

- ``POST /sfc_sso`` and ``POST /sfc_sso/<org>``: the assertion consumer service (``login.<cloud>``)
- ``GET /sim/v1/<org>/portal``: a protected page; signed out, it asks for the login name and starts
  an SP-initiated login (``/sim/v1/<org>/sso/start``), signed in, it shows the (provisioned) user
- ``GET /sim/v1/<org>/sp-metadata``: the SP metadata of an IdP entry, ``/sim/v1/<org>/logout``
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from sims.core.clock import iso
from sims.core.http import journal_note
from sims.zia import pages
from sims.zia.errors import not_found
from sims.zia.sso import Accepted, SamlFailure, parse_response
from sims.zia.tenant import Tenant

MAX_FORM = 1024 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def cookie_name(org: int | str) -> str:
    return f"zia_sso_{org}"


def add_sso_routes(app: FastAPI, sim) -> None:  # sim: ZiaSim
    def html(content: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(content, status_code=status, headers=_NO_STORE)

    def failure(request: Request, err: SamlFailure) -> HTMLResponse:
        journal_note(request.scope, err.journal())
        return html(pages.error_page(err.code, err.text, err.reason, err.detail), err.status)

    def tenant_or_404(org: str) -> Tenant:
        tenant = sim.tenants.get(org)
        if tenant is None or tenant.saml is None:
            raise not_found(f"organization {org}")
        return tenant

    async def read_form(request: Request) -> dict[str, str]:
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            raise SamlFailure("missing_response", "the ACS takes an HTTP-POST binding form", 415)
        body = await request.body()
        if len(body) > MAX_FORM:
            raise SamlFailure("too_large", f"the form is {len(body)} bytes", 413)
        try:
            pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise SamlFailure("bad_encoding", "the form is not URL-encoded ASCII") from None
        form: dict[str, str] = {}
        for k, v in pairs:
            if k in form:
                raise SamlFailure("structure", f"the form field {k!r} appears twice")
            form[k] = v
        return form

    def accept(request: Request, tenant: Tenant, accepted: Accepted) -> Response:
        s = accepted.session
        journal_note(
            request.scope,
            f"saml login of {s.login} via IdP {accepted.idp.config.name!r} "
            f"({'SP' if s.in_response_to else 'IdP'}-initiated, user {accepted.provisioned})",
        )
        response = RedirectResponse(accepted.return_to, status_code=303)
        response.set_cookie(cookie_name(tenant.config.org_id), s.id, path="/", httponly=True, samesite="lax")
        return response

    async def consume(request: Request, org: str | None) -> Response:
        try:
            form = await read_form(request)
            root = parse_response(form.get("SAMLResponse"))
            relay = form.get("RelayState")
            if org is not None:
                tenant = sim.tenants.get(org)
                if tenant is None or tenant.saml is None:
                    raise SamlFailure("unknown_org", f"no organization {org[:20]!r} at this endpoint", 404)
                return accept(request, tenant, tenant.saml.consume(root, relay))
            irt = root.get("InResponseTo")
            ordered = sorted(
                (t for t in sim.tenants.values() if t.saml is not None),
                key=lambda t: not (irt and irt in t.saml.outstanding),
            )
            first: SamlFailure | None = None
            for tenant in ordered:
                try:
                    return accept(request, tenant, tenant.saml.consume(root, relay))
                except SamlFailure as err:
                    first = first or err
                    if (irt and irt in tenant.saml.outstanding) or len(ordered) == 1:
                        raise
            raise first or SamlFailure("saml_disabled", "no organization takes SAML logins here", 403)
        except SamlFailure as err:
            return failure(request, err)

    async def acs(request: Request) -> Response:
        return await consume(request, None)

    async def acs_org(org: str, request: Request) -> Response:
        return await consume(request, org)

    async def portal(org: str, request: Request) -> Response:
        tenant = tenant_or_404(org)
        sp = tenant.saml
        session = sp.user_session(request.cookies.get(cookie_name(tenant.config.org_id)))
        if session is None:
            return html(
                pages.sign_in_page(
                    tenant.config.org_id,
                    tenant.config.name,
                    f"/sim/v1/{org}/sso/start",
                    sp.portal_path(),
                    sp.active.saml_on(),
                )
            )
        people = tenant.people
        user = people.user_view(people.users[session.user_id])
        idp = sp.active.idps.get(session.idp_id) or sp.pending.idps.get(session.idp_id)
        view = {"expires": iso(session.expires)}
        return html(
            pages.signed_in_page(
                tenant.config.org_id,
                tenant.config.name,
                user,
                idp.config.name if idp else f"#{session.idp_id}",
                view,
                f"/sim/v1/{org}/logout",
            )
        )

    async def start(org: str, request: Request) -> Response:
        tenant = tenant_or_404(org)
        return_to = request.query_params.get("return") or tenant.saml.portal_path()
        if not return_to.startswith("/") or return_to.startswith("//") or "\\" in return_to:
            return_to = tenant.saml.portal_path()  # never an open redirect
        try:
            url = tenant.saml.start(request.query_params.get("login_name") or None, return_to)
        except SamlFailure as err:
            return failure(request, err)
        journal_note(request.scope, f"saml SP-initiated login sent to {url.split('?', 1)[0]}")
        return RedirectResponse(url, status_code=302, headers=_NO_STORE)

    async def logout(org: str, request: Request) -> Response:
        tenant = tenant_or_404(org)
        tenant.saml.end_session(request.cookies.get(cookie_name(tenant.config.org_id)))
        response = RedirectResponse(tenant.saml.portal_path(), status_code=303)
        response.delete_cookie(cookie_name(tenant.config.org_id), path="/")
        return response

    async def metadata(org: str, request: Request) -> Response:
        tenant = tenant_or_404(org)
        idps = tenant.saml.active.idps
        wanted = request.query_params.get("idp")
        idp = idps.get(int(wanted)) if wanted and wanted.isdigit() else next(iter(idps.values()), None)
        if idp is None:
            raise not_found("identity provider")
        return Response(tenant.saml.sp_metadata(idp), media_type="application/samlmetadata+xml")

    routes = [
        ("POST", "/sfc_sso", acs, "SAML assertion consumer service (login.<cloud>/sfc_sso)"),
        ("POST", "/sfc_sso/{org}", acs_org, "SAML assertion consumer service, org-specific form"),
        ("GET", "/sim/v1/{org}/portal", portal, "A protected page: signed-in user, or the SAML sign-in"),
        ("GET", "/sim/v1/{org}/sso/start", start, "Start an SP-initiated SAML login (redirect to the IdP)"),
        ("GET", "/sim/v1/{org}/logout", logout, "End the user's SAML session"),
        ("GET", "/sim/v1/{org}/sp-metadata", metadata, "SP metadata for an identity provider entry"),
    ]
    for method, path, handler, summary in routes:
        app.add_api_route(
            path, handler, methods=[method], summary=summary, response_class=Response, tags=["SAML"]
        )
