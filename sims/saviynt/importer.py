"""Account and access import (ImportAccountEntJSON): fetch, page, map, link, then write the store.

The import is all or nothing: every call must succeed before the store changes, so a failed run
leaves the EIC data as it was (what ``doNotChangeIfFailed`` asks for; the engine always does it).
A full import marks accounts it no longer sees as suspended and entitlements as inactive, as the
guide says of Saviynt's full imports.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from sims.saviynt import expr
from sims.saviynt.documents import AcctEntCall, Auth, EntType, ImportCall, ImportDoc, Pagination, Rule
from sims.saviynt.paths import ColumnMap, convert, get_path
from sims.saviynt.report import Finding, OperationResult
from sims.saviynt.session import CallFailed, HeaderMap, Request, Session, bind, encode_params, json_body
from sims.saviynt.store import ACTIVE, INACTIVE, STATUS, SUSPENDED, Store

MAX_PAGES = 10_000
DOCUMENT = "ImportAccountEntJSON"


def add_query(url: str, params: dict[str, Any]) -> str:
    """``url`` with ``params`` set in its query (replacing same-named ones)."""
    parts = urllib.parse.urlsplit(url)
    query = [
        (k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k not in params
    ]
    query += [(k, expr.to_text(v)) for k, v in params.items()]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


class Importer:
    def __init__(
        self, doc: ImportDoc, session: Session, store: Store, op: OperationResult, variables: dict[str, Any]
    ) -> None:
        self.doc = doc
        self.session = session
        self.store = store
        self.op = op
        self.base_vars = variables
        self._warned: set[tuple[str, str]] = set()

    def warn(self, message: str, where: str = "") -> None:
        if (where, message) not in self._warned:
            self._warned.add((where, message))
            self.op.findings.append(Finding("warning", DOCUMENT, message, where))

    # -- fetching

    def fetch(
        self,
        call: ImportCall | AcctEntCall,
        auth: Auth,
        extra: dict[str, Any],
        label: str,
        success: Rule | None,
        unsuccess: Rule | None,
        *,
        single: bool = False,
    ) -> list[Any]:
        """Every item of every page of ``call``."""
        items: list[Any] = []
        next_url: str | None = None
        seen: set[str] = set()
        page = 0
        pg = call.pagination
        while True:
            page += 1
            if page > MAX_PAGES:
                raise CallFailed(f"{call.where}: more than {MAX_PAGES} pages; does the pagination ever stop?")
            paging = self.page_params(pg, page)
            notes: list[str] = []

            def build(token_vars: dict[str, Any], paging=paging, next_url=next_url, notes=notes) -> Request:
                variables = {**self.base_vars, **token_vars, **extra}
                w = call.where
                url = next_url or bind(
                    call.http.url, variables, document=DOCUMENT, call=w, where="url", notes=notes
                )
                if paging:
                    url = add_query(url, paging)
                method = bind(
                    call.http.method, variables, document=DOCUMENT, call=w, where="httpMethod"
                ).upper()
                headers = {
                    k: bind(v, variables, document=DOCUMENT, call=w, where=f"httpHeaders.{k}", notes=notes)
                    for k, v in call.http.headers.items()
                }
                body, ctype = encode_params(
                    call.http.params,
                    call.http.content_type,
                    variables,
                    document=DOCUMENT,
                    call=w,
                    where="httpParams",
                )
                if isinstance(body, str) and "json" in (ctype or ""):
                    body = json_body(
                        body, strict=self.session.strict, document=DOCUMENT, call=w, findings=self.op.findings
                    )
                if body is not None and ctype and not any(k.lower() == "content-type" for k in headers):
                    headers["Content-Type"] = ctype
                if method == "GETWITHBODY":
                    method = "GET"
                return Request(method, url, headers, body)

            purpose = f"{label} page {page}" if (pg or page > 1) else label
            outcome = self.session.call(
                self.op, document=DOCUMENT, call=call.name, purpose=purpose, auth=auth, build=build,
                success=success, unsuccess=unsuccess,
            )  # fmt: skip
            for n in notes:
                self.warn(f"binding read null: {n}", call.where)
            if not outcome.ok:
                raise CallFailed(f"{call.where}: {outcome.explanation}")
            resp = outcome.response
            assert resp is not None
            if not resp.is_json:
                raise CallFailed(
                    f"{call.where}: {outcome.exchange.method} {outcome.exchange.url} answered {resp.status} "
                    f"with a body that is not JSON: {expr.short(resp.text, 120)!r}"
                )
            page_items = self.extract(resp.json, call.list_field, call.where, single=single)
            items.extend(page_items)
            if pg is None:
                self.check_unpaged(resp.json, page_items, call.where)
                return items
            done, next_url = self.next_page(
                pg, resp, page_items, len(items), variables={**self.base_vars, **extra}
            )
            if done:
                return items
            if next_url is not None:
                if next_url in seen:
                    raise CallFailed(
                        f"{call.where}: pagination loops: nextUrlPath gave {next_url} a second time"
                    )
                seen.add(next_url)

    @staticmethod
    def page_params(pg: Pagination | None, page: int) -> dict[str, Any]:
        if pg is None or pg.style == "nextUrl":
            return {}
        out: dict[str, Any] = {}
        if pg.style == "page":
            out[pg.number_param or "page"] = pg.first + page - 1
        else:
            out[pg.offset_param or "offset"] = pg.first + (page - 1) * (pg.size or 0)
        if pg.size_param:
            out[pg.size_param] = pg.size
        return out

    def next_page(
        self, pg: Pagination, resp: Any, page_items: list[Any], fetched: int, variables: dict[str, Any]
    ) -> tuple[bool, str | None]:
        headers = HeaderMap(resp.headers)
        if pg.style == "nextUrl":
            assert pg.next_url_path is not None
            scope = {
                **variables,
                "response": {"completeResponseMap": resp.json, "objectList": page_items},
                "headers": headers,
            }
            if "${" in pg.next_url_path:
                text = bind(
                    pg.next_url_path, scope, document=DOCUMENT, call="pagination", where="nextUrlPath"
                )
            else:
                found, value = get_path(resp.json, pg.next_url_path)
                text = expr.to_text(value) if found and value is not None else ""
            text = text.strip()
            if not text or text == "null":
                return True, None
            return False, text
        # page / offset: stop on a short or empty page, or when the total is reached
        if not page_items or (pg.size and len(page_items) < pg.size):
            return True, None
        if pg.total_count_path:
            total = self.total(pg.total_count_path, resp.json, headers)
            if total is not None and fetched >= total:
                return True, None
        return False, None

    def total(self, path: str, body: Any, headers: dict[str, str]) -> int | None:
        if path.strip().isdigit():
            return int(path)
        found, value = get_path({"completeResponseMap": body, "headers": headers}, path)
        if not found:
            found, value = get_path(body, path)
        try:
            return int(value) if found and value is not None else None
        except (TypeError, ValueError):
            self.warn(f"totalCountPath '{path}' is {value!r}, not a number; ignored")
            return None

    def check_unpaged(self, body: Any, page_items: list[Any], where: str) -> None:
        if not isinstance(body, dict):
            return
        total = body.get("totalResults")
        if isinstance(total, int) and not isinstance(total, bool) and total > len(page_items):
            self.warn(
                f"the response says totalResults {total} but holds {len(page_items)} and the call has no "
                f"pagination: {total - len(page_items)} record(s) were not imported. Add a pagination "
                "(for SCIM: nextUrl with startIndex, or page with pageNumberParam startIndex)",
                where,
            )

    def extract(self, body: Any, list_field: str | None, where: str, *, single: bool = False) -> list[Any]:
        if list_field is None:
            if isinstance(body, list):
                return body
            if single:
                return [body]
            raise CallFailed(
                f"{where}: no listField, and the response is an object (keys: {', '.join(list(body)[:12])}); "
                'listField names the array of records ("" when the response is the array)'
            )
        if list_field == "":
            return body if isinstance(body, list) else [body]
        found, value = get_path(body, list_field)
        if not found or value is None:
            if isinstance(body, dict) and body.get("totalResults") == 0:
                return []  # SCIM may leave out Resources when there are none
            keys = ", ".join(list(body)[:12]) if isinstance(body, dict) else expr.type_name(body)
            raise CallFailed(f"{where}: listField '{list_field}' is not in the response (it has: {keys})")
        if isinstance(value, dict):
            return [value]
        if not isinstance(value, list):
            raise CallFailed(f"{where}: listField '{list_field}' is a {expr.type_name(value)}, not a list")
        return value

    # -- mapping

    def map_record(self, item: Any, columns: list[ColumnMap], where: str) -> dict[str, Any]:
        rec: dict[str, Any] = {}
        for col in columns:
            if col.mapping_info:
                continue
            if col.computed:
                bindings = expr.find_bindings(col.source)
                scope = {**self.base_vars, "response": item}
                try:
                    if len(bindings) == 1 and bindings[0][:2] == (0, len(col.source)):
                        value = expr.evaluate(bindings[0][2], scope)
                    else:
                        value = expr.render(col.source, scope)
                except expr.ExpressionError as err:
                    raise CallFailed(
                        f"{DOCUMENT}, {where}.colsToPropsMap.{col.column}: cannot evaluate "
                        f"`{expr.short(col.source)}`: {err.describe()}"
                    ) from None
            else:
                _found, value = get_path(item, col.source)
            stored, problem = convert(value, col.type, self.doc.date_format)
            if problem:
                self.warn(f"{col.column}: {problem}; stored as null", where)
            rec[col.column] = stored
        return rec

    @staticmethod
    def ids_in(item: Any, list_path: str, id_path: str) -> list[str] | None:
        found, members = get_path(item, list_path)
        if not found or members is None:
            return None
        out = []
        for m in members if isinstance(members, list) else [members]:
            value = get_path(m, id_path)[1] if id_path else m
            if value is not None and not isinstance(value, (dict, list)):
                out.append(expr.to_text(value))
        return out

    # -- the three parts

    def accounts(self) -> tuple[dict[str, dict], dict[str, dict[str, list[str]]]]:
        ap = self.doc.accounts
        assert ap is not None
        records: dict[str, dict[str, Any]] = {}
        raw: dict[str, Any] = {}
        missing_key = 0
        for call in ap.calls:
            auth = self.session.resolve_auth(
                call.connection, ap.connection, document=DOCUMENT, where=call.where, op=self.op
            )
            if call.dependent:
                for key, rec in list(records.items()):
                    extra = {
                        "account": rec,
                        "accountName": rec.get("name"),
                        "id": rec.get("accountID"),
                        "accountID": rec.get("accountID"),
                    }
                    for item in self.fetch(
                        call,
                        auth,
                        extra,
                        f"accounts {call.name} for {key}",
                        call.success or ap.success,
                        call.unsuccess or ap.unsuccess,
                        single=True,
                    )[:1]:
                        rec.update(
                            {
                                k: v
                                for k, v in self.map_record(item, call.columns, call.where).items()
                                if v is not None
                            }
                        )
                continue
            for item in self.fetch(
                call,
                auth,
                {},
                f"accounts {call.name}",
                call.success or ap.success,
                call.unsuccess or ap.unsuccess,
            ):
                rec = self.map_record(item, call.columns, call.where)
                key = rec.get(call.key_field)
                if key is None:
                    missing_key += 1
                    continue
                key = expr.to_text(key)
                if key in records:
                    self.warn(f"two records have {call.key_field} {key!r}; the later one is kept", call.where)
                rec[STATUS] = self.status(rec, call)
                records[key] = {**records.get(key, {}), **rec}
                raw[key] = item
            if missing_key:
                self.warn(
                    f"{missing_key} record(s) have no keyField '{call.key_field}' and were skipped",
                    call.where,
                )
        mapinfo: dict[str, dict[str, list[str]]] = {}
        info_col = next((c.column for call in ap.calls for c in call.columns if c.mapping_info), None)
        for key, item in raw.items():
            for m in ap.mappings:
                ids = self.ids_in(item, m.list_path, m.id_path)
                if ids is not None:
                    mapinfo.setdefault(key, {})[m.ent_type] = ids
            if info_col:
                records[key][info_col] = json.dumps(
                    {t: {"entIds": ids, "keyField": next(m.key_field for m in ap.mappings if m.ent_type == t)}
                     for t, ids in mapinfo.get(key, {}).items()}
                )  # fmt: skip
        if ap.mappings and info_col is None:
            self.warn(
                "accountParams.acctEntMappings is set but no column maps STORE#ACC#ENT#MAPPINGINFO "
                '(Saviynt requires e.g. "customproperty31": "STORE#ACC#ENT#MAPPINGINFO~#~char")',
                "accountParams",
            )
        return records, mapinfo

    @staticmethod
    def status(rec: dict[str, Any], call: ImportCall) -> str:
        cfg = call.status_config
        if cfg and STATUS in rec:
            value = expr.to_text(rec[STATUS])
            if value == expr.to_text(cfg.get("inactive")):
                return INACTIVE
            if value == expr.to_text(cfg.get("active")):
                return ACTIVE
        return ACTIVE

    def entitlements(self, et: EntType) -> tuple[dict[str, dict], dict[str, list[str]]]:
        records: dict[str, dict[str, Any]] = {}
        members: dict[str, list[str]] = {}
        without_list = 0
        for call in et.calls:
            auth = self.session.resolve_auth(
                call.connection, self.doc.ent_connection, document=DOCUMENT, where=call.where, op=self.op
            )
            items = self.fetch(
                call,
                auth,
                {},
                f"entitlements {et.name} {call.name}",
                call.success or self.doc.ent_success,
                call.unsuccess,
            )
            info_col = next((c.column for c in call.columns if c.mapping_info), None)
            for item in items:
                rec = self.map_record(item, call.columns, call.where)
                key = rec.get(call.key_field)
                if key is None:
                    self.warn(f"a record has no keyField '{call.key_field}'; skipped", call.where)
                    continue
                key = expr.to_text(key)
                rec[STATUS] = ACTIVE
                if et.mapping is not None:
                    ids = self.ids_in(item, et.mapping.list_field, et.mapping.id_path)
                    if ids is None:
                        without_list += 1
                    else:
                        members[key] = ids
                    if info_col:
                        rec[info_col] = json.dumps(
                            {"acctIds": ids or [], "keyField": et.mapping.account_field}
                        )
                records[key] = {**records.get(key, {}), **rec}
        if et.mapping is not None and records and without_list == len(records):
            self.warn(
                f"none of the {len(records)} entitlement records has '{et.mapping.list_field}': no account "
                "can be linked from them. Some SCIM servers (ZPA among them) list groups without members; "
                "GET /Groups/{id} has them, which acctEntParams 'httpEntToAcct' reads per group",
                f"entitlementParams.entTypes.{et.name}.acctEntMappings",
            )
        elif et.mapping is not None and without_list:
            self.warn(
                f"{without_list} of {len(records)} entitlement records have no '{et.mapping.list_field}'",
                f"entitlementParams.entTypes.{et.name}.acctEntMappings",
            )
        return records, members

    def link(
        self,
        accounts: dict[str, dict],
        acct_mapinfo: dict[str, dict[str, list[str]]],
        ents: dict[str, dict[str, dict]],
        members: dict[str, dict[str, list[str]]],
    ) -> tuple[set[str], set[tuple[str, str, str]]]:
        """(entitlement types whose links were read, the links)."""
        account_pool = accounts or self.store.accounts
        pt = self.doc.acct_ent.processing_type if self.doc.acct_ent else None
        if pt is None:
            if any(t.mapping for t in self.doc.ent_types):
                pt = "entToAcctMapping"
            elif acct_mapinfo:
                pt = "acctToEntMapping"
            else:
                return set(), set()
            self.warn(f"no acctEntParams: links read with processingType '{pt}' from the mappings given")
        links: set[tuple[str, str, str]] = set()
        types: set[str] = set()
        unmatched = 0

        def index(pool: dict[str, dict], column: str) -> dict[str, str]:
            return {expr.to_text(r.get(column)): key for key, r in pool.items() if r.get(column) is not None}

        if pt == "entToAcctMapping":
            for et in self.doc.ent_types:
                if et.mapping is None:
                    continue
                types.add(et.name)
                by = index(account_pool, et.mapping.account_field)
                for ent_id, ids in members.get(et.name, {}).items():
                    for i in ids:
                        if i in by:
                            links.add((by[i], et.name, ent_id))
                        else:
                            unmatched += 1
            if not types:
                self.warn(
                    "acctEntParams 'entToAcctMapping' but no entitlement type has acctEntMappings: no links"
                )
        elif pt == "acctToEntMapping":
            mappings = self.doc.accounts.mappings if self.doc.accounts else []
            for m in mappings:
                types.add(m.ent_type)
                pool = ents.get(m.ent_type) or self.store.entitlements.get(m.ent_type, {})
                by = index(pool, m.key_field)
                for acct, per_type in acct_mapinfo.items():
                    for i in per_type.get(m.ent_type, []):
                        if i in by:
                            links.add((acct, m.ent_type, by[i]))
                        else:
                            unmatched += 1
            if not mappings:
                self.warn(
                    "acctEntParams 'acctToEntMapping' but accountParams has no acctEntMappings: no links"
                )
        else:
            assert self.doc.acct_ent is not None
            for ent_type, calls in self.doc.acct_ent.calls.items():
                types.add(ent_type)
                ent_pool = ents.get(ent_type) or self.store.entitlements.get(ent_type, {})
                unmatched += self.http_links(pt, ent_type, calls, account_pool, ent_pool, links)
        if unmatched:
            self.warn(f"{unmatched} listed member(s) match no imported account or entitlement: not linked")
        return types, links

    def http_links(
        self,
        pt: str,
        ent_type: str,
        calls: list[AcctEntCall],
        accounts: dict[str, dict],
        ents: dict[str, dict],
        links: set[tuple[str, str, str]],
    ) -> int:
        unmatched = 0
        assert self.doc.acct_ent is not None
        for call in calls:
            auth = self.session.resolve_auth(
                call.connection, self.doc.acct_ent.connection or self.doc.ent_connection
                or (self.doc.accounts.connection if self.doc.accounts else None),
                document=DOCUMENT, where=call.where, op=self.op,
            )  # fmt: skip
            acct_by = {
                expr.to_text(r.get(call.acct_key_field)): k
                for k, r in accounts.items()
                if r.get(call.acct_key_field) is not None
            }
            ent_by = {
                expr.to_text(r.get(call.ent_key_field)): k
                for k, r in ents.items()
                if r.get(call.ent_key_field) is not None
            }
            if pt == "httpEntToAcct":
                for ent_id, rec in ents.items():
                    extra = {"id": ent_id, "entitlementID": ent_id, "entitlementValue": rec}
                    items = self.fetch(
                        call,
                        auth,
                        extra,
                        f"links {ent_type} {ent_id}",
                        call.success,
                        call.unsuccess,
                        single=True,
                    )
                    for item in items:
                        acct_id = self.scalar(item, call.acct_id_path)
                        if acct_id in acct_by:
                            links.add((acct_by[acct_id], ent_type, ent_id))
                        elif acct_id is not None:
                            unmatched += 1
            elif pt == "httpAcctToEnt":
                for acct_key, rec in accounts.items():
                    extra = {
                        "id": rec.get("accountID"),
                        "accountID": rec.get("accountID"),
                        "accountName": rec.get("name"),
                        "account": rec,
                    }
                    items = self.fetch(
                        call, auth, extra, f"links {acct_key}", call.success, call.unsuccess, single=True
                    )
                    for item in items:
                        ent_id = self.scalar(item, call.ent_id_path)
                        if ent_id in ent_by:
                            links.add((acct_key, ent_type, ent_by[ent_id]))
                        elif ent_id is not None:
                            unmatched += 1
            else:  # http: one listing of (account, entitlement) pairs
                for item in self.fetch(call, auth, {}, f"links {ent_type}", call.success, call.unsuccess):
                    acct_id = self.scalar(item, call.acct_id_path)
                    ent_id = self.scalar(item, call.ent_id_path)
                    if acct_id in acct_by and ent_id in ent_by:
                        links.add((acct_by[acct_id], ent_type, ent_by[ent_id]))
                    else:
                        unmatched += 1
        return unmatched

    @staticmethod
    def scalar(item: Any, path: str | None) -> str | None:
        value = get_path(item, path)[1] if path else item
        return None if value is None or isinstance(value, (dict, list)) else expr.to_text(value)

    # -- the whole import

    def run(self) -> None:
        accounts: dict[str, dict] = {}
        acct_mapinfo: dict[str, dict[str, list[str]]] = {}
        if self.doc.accounts is not None:
            accounts, acct_mapinfo = self.accounts()
        ents: dict[str, dict[str, dict]] = {}
        members: dict[str, dict[str, list[str]]] = {}
        for et in self.doc.ent_types:
            ents[et.name], members[et.name] = self.entitlements(et)
        link_types, links = self.link(accounts, acct_mapinfo, ents, members)
        self.apply(accounts, ents, link_types, links)

    def apply(
        self,
        accounts: dict[str, dict],
        ents: dict[str, dict[str, dict]],
        link_types: set[str],
        links: set[tuple[str, str, str]],
    ) -> None:
        store = self.store
        parts = []
        if self.doc.accounts is not None:
            store.account_key = self.doc.accounts.key_field
            gone = [k for k, r in store.accounts.items() if k not in accounts and r.get(STATUS) == ACTIVE]
            new = [k for k in accounts if k not in store.accounts]
            for k in gone:
                store.accounts[k][STATUS] = SUSPENDED
            store.accounts.update(accounts)
            created_users = 0
            if self.doc.accounts.create_users:
                for rec in accounts.values():
                    name = expr.to_text(rec.get("name")) if rec.get("name") is not None else None
                    if name and name not in store.users:
                        store.users[name] = {
                            "username": name,
                            "email": name if "@" in name else None,
                            "displayname": rec.get("displayName"),
                            "source": "import (createUsers)",
                        }
                        created_users += 1
            parts.append(f"{len(accounts)} account(s) ({len(new)} new, {len(gone)} suspended)")
            if created_users:
                parts.append(f"{created_users} user(s) created")
        for ent_type, records in ents.items():
            current = store.entitlements.setdefault(ent_type, {})
            gone = [k for k, r in current.items() if k not in records and r.get(STATUS) == ACTIVE]
            for k in gone:
                current[k][STATUS] = INACTIVE
            current.update(records)
            parts.append(f"{len(records)} {ent_type} entitlement(s) ({len(gone)} inactivated)")
        if link_types:
            store.replace_links(link_types, links)
            parts.append(f"{len(links)} account-entitlement link(s)")
        self.op.summary = "imported " + ", ".join(parts)
