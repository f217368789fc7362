"""HTTP layer of the idp's SAML side, in CyberArk Identity's URL shapes under ``/<directory>``.

- ``/applogin/appKey/<key>/customerId/<ID>``: the app's SAML portal URL (SP-initiated SSO over
  HTTP-Redirect with GET, HTTP-POST with POST; a GET without SAMLRequest launches the app)
- ``/login``: the sign-in form; ``/my``: the user portal; ``/run?appkey=``: IdP-initiated launch
- ``/saasManage/DownloadSAMLMetadataForApp`` and ``/DownloadSAMLCertificateForApp``: the Trust page
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from sims import samlkit as sk
from sims.core.http import journal_note
from sims.idp import pages
from sims.idp.saml import SsoError, WebApp
from sims.idp.sso import Completion, LoginContext, SamlPortal

MAX_FORM = 512 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def cookie_name(directory_id: str) -> str:
    return f"idp_session_{directory_id}"


async def read_form(request: Request) -> dict[str, str]:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise SsoError("bad_form", "The form must be sent as application/x-www-form-urlencoded", 415)
    body = await request.body()
    if len(body) > MAX_FORM:
        raise SsoError("too_large", f"The form is larger than {MAX_FORM} bytes", 413)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise SsoError("bad_form", "The form is not valid UTF-8 form data") from None
    form: dict[str, str] = {}
    for k, v in pairs:
        if k in form:
            raise SsoError("duplicate_param", f"The form field {k!r} appears more than once")
        form[k] = v
    return form


def add_saml_routes(app: FastAPI, sim) -> None:  # sim: IdpSim
    def html(content: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(content, status_code=status, headers=_NO_STORE)

    def fail(request: Request, err: SsoError) -> HTMLResponse:
        journal_note(request.scope, f"saml {err.reason}: {err.message}")
        title = "Sign-in failed" if err.status != 404 else "Not found"
        return html(pages.error_page(title, err.message, err.reason), err.status)

    def portal(dir_id: str) -> SamlPortal:
        p = sim.portals.get(dir_id)
        if p is None:
            raise SsoError("unknown_directory", f"There is no tenant {dir_id!r} here", 404)
        return p

    def app_by_key(p: SamlPortal, key: str | None) -> WebApp:
        found = p.by_key(key or "")
        if found is None:
            raise SsoError(
                "unknown_app", "The application key does not name an application of this tenant", 404
            )
        return found

    def session_of(request: Request, p: SamlPortal):
        return p.session(request.cookies.get(cookie_name(p.id)))

    def set_session(response: Response, p: SamlPortal, sid: str) -> None:
        response.set_cookie(cookie_name(p.id), sid, path=f"/{p.id}", httponly=True, samesite="lax")

    def login_form(
        p: SamlPortal, ctx: LoginContext | None, error: str | None = None, username: str = "", status=200
    ):
        app_name = p.apps[ctx.app_id].name if ctx and ctx.app_id in p.apps else None
        name = p.directory.config.name or p.id
        return html(
            pages.login_page(name, f"/{p.id}/login", ctx.id if ctx else None, app_name, error, username),
            status,
        )

    def post_back(request: Request, c: Completion) -> HTMLResponse:
        kind = "SP-initiated" if c.in_response_to else "IdP-initiated"
        note = f"saml response ({kind}) for {c.user.login} to {c.app.config.id} at {c.acs_url}"
        journal_note(request.scope, note + (f" [broken: {c.broken}]" if c.broken else ""))
        fields = {"SAMLResponse": c.saml_response}
        if c.relay_state is not None:
            fields["RelayState"] = c.relay_state
        return html(sk.post_form(c.acs_url, fields, f"Signing in to {c.app.name}"))

    def proceed(request: Request, p: SamlPortal, ctx: LoginContext) -> HTMLResponse:
        session = session_of(request, p)
        if p.needs_sign_in(ctx, session):
            return login_form(p, ctx)
        return post_back(request, p.complete(ctx, session))

    async def sso_get(dir_id: str, app_key: str, customer_id: str, request: Request) -> Response:
        try:
            p = portal(dir_id)
            target = app_by_key(p, app_key)
            raw = request.scope.get("query_string", b"").decode("latin-1")
            if "SAMLRequest=" in raw:
                ctx = p.sp_initiated(target, sk.BINDING_REDIRECT, raw_query=raw)
            else:  # the portal URL opened directly launches the app (IdP-initiated)
                ctx = p.idp_initiated(target, request.query_params.get("RelayState"))
            return proceed(request, p, ctx)
        except SsoError as err:
            return fail(request, err)

    async def sso_post(dir_id: str, app_key: str, customer_id: str, request: Request) -> Response:
        try:
            p = portal(dir_id)
            target = app_by_key(p, app_key)
            ctx = p.sp_initiated(target, sk.BINDING_POST, form=await read_form(request))
            return proceed(request, p, ctx)
        except SsoError as err:
            return fail(request, err)

    async def login_get(dir_id: str, request: Request) -> Response:
        try:
            p = portal(dir_id)
            return login_form(p, p.context(request.query_params.get("ctx")))
        except SsoError as err:
            return fail(request, err)

    async def login_post(dir_id: str, request: Request) -> Response:
        try:
            p = portal(dir_id)
            form = await read_form(request)
            ctx_id = form.get("ctx")
            ctx = p.context(ctx_id)
            if ctx_id and ctx is None:
                raise SsoError(
                    "login_expired", "This sign-in took too long or was already used; start again."
                )
            username = form.get("username", "")
            try:
                session = p.sign_in(username, form.get("password", ""))
            except SsoError as err:
                journal_note(request.scope, f"saml {err.reason}: sign-in of {username[:80]!r} failed")
                return login_form(p, ctx, err.message, username, err.status)
            response: Response
            if ctx is None:
                response = RedirectResponse(f"/{p.id}/my", status_code=303)
                journal_note(request.scope, f"portal sign-in of {session.login}")
            else:
                response = post_back(request, p.complete(ctx, session))
            set_session(response, p, session.id)
            return response
        except SsoError as err:
            return fail(request, err)

    async def user_portal(dir_id: str, request: Request) -> Response:
        try:
            p = portal(dir_id)
            session = session_of(request, p)
            if session is None:
                return login_form(p, None)
            user = p.directory.users[session.login]
            apps = [
                (a.config.id, a.name, a.launch_url) for a in p.apps_for(user.login) if a.config.idp_initiated
            ]
            name = p.directory.config.name or p.id
            return html(pages.portal_page(name, user.display_name, user.login, apps, f"/{p.id}/logout"))
        except SsoError as err:
            return fail(request, err)

    async def run(dir_id: str, request: Request) -> Response:
        try:
            p = portal(dir_id)
            target = app_by_key(p, request.query_params.get("appkey"))
            return proceed(request, p, p.idp_initiated(target, request.query_params.get("RelayState")))
        except SsoError as err:
            return fail(request, err)

    async def logout(dir_id: str, request: Request) -> Response:
        try:
            p = portal(dir_id)
            p.sign_out(request.cookies.get(cookie_name(p.id)))
            response = html(pages.signed_out_page(p.directory.config.name or p.id, f"/{p.id}/my"))
            response.delete_cookie(cookie_name(p.id), path=f"/{p.id}")
            return response
        except SsoError as err:
            return fail(request, err)

    async def metadata(dir_id: str, request: Request) -> Response:
        try:
            target = app_by_key(portal(dir_id), request.query_params.get("appkey"))
            return Response(target.metadata(sim.clock.now()), media_type="application/samlmetadata+xml")
        except SsoError as err:
            return fail(request, err)

    async def certificate(dir_id: str, request: Request) -> Response:
        try:
            target = app_by_key(portal(dir_id), request.query_params.get("appkey"))
            cn = target.cert.subject.rfc4514_string().split(",")[0].removeprefix("CN=")
            return Response(
                target.certificate_pem(),
                media_type="application/x-x509-ca-cert",
                headers={"Content-Disposition": f'attachment; filename="{cn}1.cer"'},
            )
        except SsoError as err:
            return fail(request, err)

    sso_path = "/{dir_id}/applogin/appKey/{app_key}/customerId/{customer_id}"
    routes = [
        ("GET", sso_path, sso_get, "SAML portal URL: SP-initiated SSO (HTTP-Redirect) or app launch"),
        ("POST", sso_path, sso_post, "SAML portal URL: SP-initiated SSO (HTTP-POST)"),
        ("GET", "/{dir_id}/login", login_get, "The sign-in form"),
        ("POST", "/{dir_id}/login", login_post, "Sign in (then the auto-submitting form to the ACS)"),
        ("GET", "/{dir_id}/my", user_portal, "The user portal (IdP-initiated SSO)"),
        ("GET", "/{dir_id}/run", run, "Launch an app from the portal (IdP-initiated SSO)"),
        ("GET", "/{dir_id}/logout", logout, "Sign out of the portal"),
        ("GET", "/{dir_id}/saasManage/DownloadSAMLMetadataForApp", metadata, "IdP metadata of an app"),
        (
            "GET",
            "/{dir_id}/saasManage/DownloadSAMLCertificateForApp",
            certificate,
            "Signing certificate (PEM)",
        ),
    ]
    for method, path, handler, summary in routes:
        app.add_api_route(
            path, handler, methods=[method], summary=summary, response_class=Response, tags=["SAML"]
        )
