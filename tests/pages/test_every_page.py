"""Every web page of the issuer and the verifier scanner, in headless Chromium, at a phone width
(375 px, touch) and a desktop width (1280 px).

The pages are enumerated from the apps themselves: a route whose declared response is HTML
(``response_class`` or the endpoint's return annotation) is a page and must have a visit below;
every other route a browser reaches (``include_in_schema=False``: form actions, downloads) must
be either visited or listed in ``NOT_PAGES`` with the reason.  So a new page cannot go
untested.  During each visit every document an app serves as HTML must come from a page route
(a probe at run time of what the declaration says).

Each visit brings a page into one meaningful state (the form and its result, signed out and
in, with data, after a verification…), keeps a full-page screenshot as a test artifact
(``$FURUSATO_ARTIFACTS/screenshots/<app>/<page>-<width>.png``, default ``test-artifacts/``) and
checks what every page owes a newcomer: ``<html lang="ja">``, a title, exactly one h1 in the
accessibility tree, an accessible name on every control (Chromium's own accessibility tree,
over CDP), alt text on images, no sideways scrolling, no console errors, and no request that
leaves loopback (every request is routed; any other host is aborted and reported).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI, routing
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from issuer.app import create_app as create_issuer_app
from tests.pages.conftest import BROWSER_APPLICANTS, LG, WIDTHS, Pages, artifacts_dir
from tests.premium.conftest import HTTP_TIMEOUT
from tests.verifier.test_oid4vp import answer as oid4vp_answer
from tests.wallet.helpers import short
from vc import oid4vp
from vc.formats import LDP_VC
from verifier.cache import VerifierCache
from verifier.policy import Policy
from verifier.web import create_app as create_verifier_app

Route = tuple[str, str]  # (method, path template)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})
PHONE = 375
TIMEOUT_MS = 20_000

# Routes a browser reaches that are not pages, and why.  (Form actions that answer with a
# redirect re-render their page only to show a refusal; tests/premium/test_console.py and
# tests/notices test those refusals.)
NOT_PAGES: dict[str, dict[Route, str]] = {
    "issuer": {
        ("GET", "/healthz"): "the load balancer's health check (JSON)",
        ("GET", "/lg/{lg_code}/premium/identity/oidc"): "redirects to the identity provider "
        "(followed in the identity-done visit)",
        ("POST", "/admin/logout"): "signs out and redirects to /admin",
        ("POST", "/admin/premium/{application_id}/approve"): "redirects to the application",
        ("POST", "/admin/premium/{application_id}/reject"): "redirects to the application",
        ("POST", "/admin/premium/{application_id}/document"): "redirects to the application",
        ("GET", "/admin/premium/activities/{activity_id}/document"): "a document download",
        ("POST", "/admin/sites"): "creates a site and redirects to the list",
        ("POST", "/admin/sites/{site_id}/close"): "closes a site and redirects to the list",
        ("POST", "/admin/notices/{notice_id}/edit"): "redirects to the notice",
        ("POST", "/admin/notices/{notice_id}/close"): "redirects to the notice",
        ("POST", "/admin/notices/{notice_id}/withdraw"): "redirects to the notice",
        ("GET", "/admin/stats.csv"): "a CSV download",
    },
    "verifier": {
        ("GET", "/healthz"): "the health check (JSON)",
    },
}

# The controls that need an accessible name, and images (alt text).
PROBED = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], "
    '[role=link], [role=checkbox], [role=img], img, [tabindex]:not([tabindex="-1"])'
)
INSPECT = """([selector, width]) => {
  for (const el of document.querySelectorAll('[data-a11y-probe]')) el.removeAttribute('data-a11y-probe');
  const probes = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!el.checkVisibility({checkVisibilityCSS: true})) continue;  // not on the screen now
    if (el.tagName === 'IMG' && !(el.getAttribute('alt') || '').trim()) continue;  // see noAlt
    el.setAttribute('data-a11y-probe', String(probes.length));
    probes.push(el.outerHTML.replace(/\\s+/g, ' ').slice(0, 160));
  }
  const root = document.documentElement;
  const wide = [];
  if (root.scrollWidth > width) {
    // the innermost elements that stick out (their children all fit, or they have none)
    for (const el of document.body.querySelectorAll('*')) {
      const out = (node) => node.getBoundingClientRect().right > width + 1;
      if (out(el) && el.checkVisibility() && ![...el.children].some(out)) {
        const box = el.getBoundingClientRect();
        wide.push(`${Math.round(box.right)}px ` + el.outerHTML.replace(/\\s+/g, ' ').slice(0, 120));
      }
      if (wide.length >= 6) break;
    }
  }
  return {
    lang: root.getAttribute('lang'),
    title: document.title.trim(),
    scrollWidth: root.scrollWidth,
    probes: probes,
    noAlt: [...document.images].filter((img) => !(img.getAttribute('alt') || '').trim())
      .map((img) => img.outerHTML.slice(0, 120)),
    wide: wide,
  };
}"""


# --- the apps' routes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppRoute:
    method: str
    path: str
    pattern: re.Pattern[str]
    html: bool  # declared to answer HTML
    browser: bool  # not part of the JSON API (include_in_schema=False)

    @property
    def key(self) -> Route:
        return (self.method, self.path)


def _declares_html(route: APIRoute) -> bool:
    declared = getattr(route.response_class, "value", route.response_class)  # DefaultPlaceholder
    if isinstance(declared, type) and issubclass(declared, HTMLResponse):
        return True
    try:
        returns = typing.get_type_hints(route.endpoint).get("return")
    except NameError:  # an annotation that does not resolve: read its text
        return "HTMLResponse" in str(route.endpoint.__annotations__.get("return", ""))
    return isinstance(returns, type) and issubclass(returns, HTMLResponse)


def app_routes(app: FastAPI) -> list[AppRoute]:
    """Every API route of ``app`` with its methods (FastAPI ≥ 0.16x includes routers lazily:
    ``routing.iter_route_contexts`` flattens them as the OpenAPI generator does)."""
    flatten: Callable[[Any], Any] | None = getattr(routing, "iter_route_contexts", None)
    found = flatten(app.routes) if flatten is not None else app.routes
    out = []
    for entry in found:
        route = getattr(entry, "original_route", entry)
        if not isinstance(route, APIRoute):
            continue  # /static, /openapi.json
        html = _declares_html(route)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            out.append(
                AppRoute(method, route.path, route.path_regex, html, not route.include_in_schema)
            )
    return out


def route_of(routes: list[AppRoute], method: str, path: str) -> AppRoute | None:
    for route in routes:
        if route.method == method and route.pattern.match(path):
            return route
    return None


# --- the browser -----------------------------------------------------------------------------------


@dataclass
class Recorder:
    """What one width's page did during a visit."""

    blocked: list[str] = field(default_factory=list)  # requests that would leave loopback
    errors: list[tuple[str, str]] = field(default_factory=list)  # console errors: (text, url)
    documents: list[tuple[str, str, int, str]] = field(default_factory=list)

    def clear(self) -> None:
        self.blocked.clear()
        self.errors.clear()
        self.documents.clear()


@dataclass
class Browsing:
    """One width: its context, its one page, a CDP session on it, and the apps."""

    width: int
    context: Any
    page: Any
    cdp: Any
    recorder: Recorder
    pages: Pages

    def issuer(self, path: str) -> None:
        self.page.goto(self.pages.issuer.url + path)

    def verifier(self, path: str) -> None:
        self.page.goto(self.pages.verifier.url + path)

    def submit(self, name: str | re.Pattern[str]) -> None:
        """Press a form's submit button and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=name).click()

    def sign_in(self, token: str) -> None:
        """The console's cookie for ``token`` (the form itself: the admin-console visit)."""
        self.context.clear_cookies()
        self.context.add_cookies(
            [
                {
                    "name": "fvc_admin",
                    "value": token,
                    "domain": "localhost",
                    "path": "/admin",
                    "httpOnly": True,
                    "sameSite": "Strict",
                }
            ]
        )


def _keep_local(recorder: Recorder) -> Callable[[Any, Any], None]:
    def handle(route: Any, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in LOCAL_SCHEMES or parts.hostname in LOOPBACK:
            route.continue_()
            return
        recorder.blocked.append(f"{request.method} {request.url}")
        route.abort("blockedbyclient")

    return handle


def _open(browser: Any, width: int, pages: Pages) -> Browsing:
    phone = width == PHONE
    context = browser.new_context(
        viewport={"width": width, "height": 812 if phone else 800},
        is_mobile=phone,
        has_touch=phone,
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        service_workers="block",
    )
    context.set_default_timeout(TIMEOUT_MS)
    recorder = Recorder()
    context.route("**/*", _keep_local(recorder))
    page = context.new_page()

    def console(message: Any) -> None:
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            recorder.errors.append((message.text, where))

    def response(answer: Any) -> None:
        request = answer.request
        if request.resource_type == "document" and answer.frame == page.main_frame:
            kind = answer.headers.get("content-type", "")
            recorder.documents.append((request.method, answer.url, answer.status, kind))

    page.on("console", console)
    page.on("pageerror", lambda error: recorder.errors.append((f"uncaught: {error}", page.url)))
    page.on("response", response)
    cdp = context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("Accessibility.enable")
    return Browsing(width, context, page, cdp, recorder, pages)


@pytest.fixture(scope="module")
def browsing(chromium_browser: Any, pages: Pages) -> Iterator[dict[int, Browsing]]:
    opened = {width: _open(chromium_browser, width, pages) for width in WIDTHS}
    yield opened
    for one in opened.values():
        one.context.close()


# --- the visits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """One page in one state: ``go`` brings the width's page there."""

    app: str  # issuer | verifier
    name: str  # the screenshot's name
    route: Route  # the route that serves the page shown
    go: Callable[[Browsing], None]
    status: int = 200


def _register_offer(b: Browsing) -> None:
    b.issuer(f"/lg/{LG}/register")
    b.submit(re.compile("申し込む"))
    b.page.wait_for_selector("img.qr")


def _identity_done(b: Browsing) -> None:
    b.page.goto(b.pages.identity_to_prove[b.width])
    with b.page.expect_navigation(url=re.compile("^" + re.escape(b.pages.oidc.issuer))):
        b.page.get_by_role("link", name=re.compile("マイナンバーカードでログイン")).click()
    b.page.select_option("select[name=login_hint]", BROWSER_APPLICANTS[b.width])  # the provider's
    b.submit("ログイン")
    b.page.wait_for_selector("[data-state=submitted]")


def _signed_out(path: str) -> Callable[[Browsing], None]:
    def go(b: Browsing) -> None:
        b.context.clear_cookies()
        b.issuer(path)

    return go


def _login_refused(b: Browsing) -> None:
    b.context.clear_cookies()
    b.issuer("/admin")
    b.page.get_by_label(re.compile("アクセストークン")).fill("not-a-token")
    b.submit(re.compile("ログイン"))


def _console_signed_in(b: Browsing) -> None:
    b.context.clear_cookies()
    b.issuer("/admin")
    b.page.get_by_label(re.compile("アクセストークン")).fill(b.pages.admin_token)
    b.submit(re.compile("ログイン"))
    b.page.wait_for_selector("#list-title")


def _signed_in(path: str) -> Callable[[Browsing], None]:
    def go(b: Browsing) -> None:
        b.sign_in(b.pages.admin_token)
        b.issuer(path)

    return go


def _counter_offer(b: Browsing) -> None:
    _signed_in("/admin")(b)
    b.page.get_by_label(re.compile("確認コードを付ける")).check()
    b.submit(re.compile("申込み QR を作る"))
    b.page.wait_for_selector("#offer-title")


def _suspended(b: Browsing) -> None:
    _signed_in("/admin")(b)
    b.submit(f"停止 / Suspend {b.pages.to_suspend[b.width]}")
    b.page.wait_for_selector("p.ok[role=status]")


def _site_qr(b: Browsing) -> None:
    _signed_in("/admin/sites")(b)
    b.submit(re.compile("チェックイン QR を印刷: 公民館の清掃"))
    b.page.wait_for_selector("img.qr-big")


def _notice_refused(b: Browsing) -> None:
    """A call for help (募集) without its places and deadline: the server refuses it."""
    _signed_in("/admin/notices")(b)
    form = b.page.locator("form[action='/admin/notices']")
    form.get_by_role("combobox", name=re.compile("^分類")).select_option("募集")
    form.get_by_role("textbox", name=re.compile("^件名")).fill("稲刈りの手伝い")
    form.get_by_role("textbox", name=re.compile("^本文")).fill("10月の週末、2時間ほどです。")
    b.submit(re.compile("公開する"))
    b.page.wait_for_selector("p.error[role=alert]")


def _stats(b: Browsing) -> None:
    b.sign_in(b.pages.stats_token)  # 札幌市, with a generated year
    b.issuer("/admin/stats")
    b.page.wait_for_selector("svg[role=img]")


def _scan(payload: Callable[[Browsing], str], mark: str) -> Callable[[Browsing], None]:
    def go(b: Browsing) -> None:
        b.verifier("/")
        b.page.fill("#payload", payload(b))
        b.page.click("#verify-button")
        b.page.wait_for_selector("#result:not([hidden]) #mark")
        assert b.page.inner_text("#mark") == mark

    return go


def _fresh_qr(b: Browsing) -> str:
    setup = b.pages.site.setup
    return setup.wallet.payload(short(setup.basic.id))


def _interactive(b: Browsing) -> None:
    b.verifier("/")
    b.page.check("#interactive-mode")
    b.page.wait_for_selector("#challenge-box:not([hidden]) #challenge-qr[src^='data:']")
    # times as people here read them (DESIGN §13), not the API's UTC
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST$", b.page.inner_text("#challenge-expiry"))


def _cache(b: Browsing) -> None:
    b.verifier("/cache")
    next_update = b.page.locator("#cache-table tr", has_text="次の更新予定").locator("td")
    assert next_update.inner_text().endswith(" JST")


def _verify_without_script(b: Browsing) -> None:
    """The form as a browser without JavaScript posts it: the server's result page."""
    b.verifier("/")
    b.page.fill("#payload", _fresh_qr(b))
    with b.page.expect_navigation():
        b.page.evaluate("document.getElementById('verify-form').submit()")
    b.page.wait_for_selector("#result #mark")


def _oid4vp_request(b: Browsing) -> None:
    b.verifier("/oid4vp")
    b.page.get_by_role("button", name=re.compile("提示を依頼する")).click()
    b.page.wait_for_selector("#oid4vp-request:not([hidden]) #oid4vp-qr[src^='data:']")
    assert b.page.inner_text("#oid4vp-expiry").endswith(" JST")


def _oid4vp_answered(b: Browsing) -> None:
    """The wallet answers the page's request over the network (direct_post); the page's next
    poll (every 1.5 s) shows the result — run at once on Playwright's clock."""
    b.page.clock.install()
    _oid4vp_request(b)
    uri = b.page.get_attribute("#oid4vp-link", "href")
    assert uri
    request = oid4vp.parse_request_uri(uri, unsafe_allow_http_loopback=True)
    site = b.pages.site
    form = oid4vp_answer(site, request, LDP_VC, dict(site.setup.basic.credential))
    posted = httpx.post(request.response_uri, data=form, timeout=HTTP_TIMEOUT)
    assert posted.status_code == 200, posted.text
    b.page.clock.run_for(2_000)
    b.page.wait_for_selector("#oid4vp-result:not([hidden]) #oid4vp-mark")
    assert b.page.inner_text("#oid4vp-mark") == "✓"
    claims = b.page.inner_text("#oid4vp-claims")
    assert "登録区分" in claims  # the claim's label, not its name on the wire
    assert "ベーシック" in claims


VISITS = (
    # the resident
    Visit("issuer", "index", ("GET", "/"), lambda b: b.issuer("/")),
    Visit(
        "issuer",
        "register-form",
        ("GET", "/lg/{lg_code}/register"),
        lambda b: b.issuer(f"/lg/{LG}/register"),
    ),
    Visit("issuer", "register-offer", ("POST", "/lg/{lg_code}/register"), _register_offer),
    Visit(
        "issuer",
        "premium",
        ("GET", "/lg/{lg_code}/premium"),
        lambda b: b.issuer(f"/lg/{LG}/premium"),
    ),
    Visit(
        "issuer",
        "identity-choose",
        ("GET", "/lg/{lg_code}/premium/identity"),
        lambda b: b.page.goto(b.pages.identity_to_view[b.width]),
    ),
    Visit(
        "issuer",
        "identity-link-invalid",
        ("GET", "/lg/{lg_code}/premium/identity"),
        lambda b: b.issuer(f"/lg/{LG}/premium/identity?login={'x' * 32}"),
        status=404,
    ),
    Visit("issuer", "identity-done", ("GET", "/premium/oidc/callback"), _identity_done),
    # staff: the console
    Visit("issuer", "admin-login", ("GET", "/admin"), _signed_out("/admin")),
    Visit("issuer", "admin-login-refused", ("POST", "/admin/login"), _login_refused, status=401),
    Visit(
        "issuer",
        "admin-signed-out",
        ("GET", "/admin/premium"),
        _signed_out("/admin/premium"),
        status=401,
    ),
    Visit("issuer", "admin-console", ("GET", "/admin"), _console_signed_in),
    Visit("issuer", "admin-counter-offer", ("POST", "/admin/offer"), _counter_offer),
    Visit(
        "issuer",
        "admin-suspended",
        ("POST", "/admin/credentials/{credential_id}/{action}"),
        _suspended,
    ),
    Visit("issuer", "premium-queue", ("GET", "/admin/premium"), _signed_in("/admin/premium")),
    Visit(
        "issuer",
        "premium-application",
        ("GET", "/admin/premium/{application_id}"),
        lambda b: _signed_in(f"/admin/premium/{b.pages.waiting}")(b),
    ),
    Visit("issuer", "sites", ("GET", "/admin/sites"), _signed_in("/admin/sites")),
    Visit("issuer", "site-qr", ("POST", "/admin/sites/{site_id}/qr"), _site_qr),
    Visit("issuer", "notices", ("GET", "/admin/notices"), _signed_in("/admin/notices")),
    Visit("issuer", "notices-refused", ("POST", "/admin/notices"), _notice_refused, status=400),
    Visit(
        "issuer",
        "notice-detail",
        ("GET", "/admin/notices/{notice_id}"),
        lambda b: _signed_in(f"/admin/notices/{b.pages.notice}")(b),
    ),
    Visit("issuer", "stats", ("GET", "/admin/stats"), _stats),
    Visit("issuer", "docs", ("GET", "/docs"), lambda b: b.issuer("/docs")),
    # the verifying device
    Visit("verifier", "scan", ("GET", "/"), lambda b: b.verifier("/")),
    Visit("verifier", "scan-valid", ("GET", "/"), _scan(_fresh_qr, "✓")),
    Visit("verifier", "scan-invalid", ("GET", "/"), _scan(lambda b: "FR1:not-a-real-payload", "✗")),
    Visit("verifier", "scan-interactive", ("GET", "/"), _interactive),
    Visit("verifier", "verify-no-script", ("POST", "/verify"), _verify_without_script),
    Visit("verifier", "cache", ("GET", "/cache"), _cache),
    Visit("verifier", "oid4vp", ("GET", "/oid4vp"), lambda b: b.verifier("/oid4vp")),
    Visit("verifier", "oid4vp-request", ("GET", "/oid4vp"), _oid4vp_request),
    Visit("verifier", "oid4vp-verified", ("GET", "/oid4vp"), _oid4vp_answered),
)


# --- the routes of both apps, and the visit list -------------------------------------------------


@pytest.fixture(scope="module")
def routes(pages: Pages, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[AppRoute]]:
    verifier_app = create_verifier_app(
        VerifierCache(tmp_path_factory.mktemp("no-cache")),
        Policy(),
        clock=lambda: datetime.now(UTC),
    )
    return {
        "issuer": app_routes(create_issuer_app(pages.world.svc)),
        "verifier": app_routes(verifier_app),
    }


@pytest.mark.parametrize("app", ["issuer", "verifier"])
def test_every_page_route_has_a_visit(routes: dict[str, list[AppRoute]], app: str) -> None:
    found = routes[app]
    pages = {r.key for r in found if r.html}
    assert pages, f"no HTML route found in the {app}: the criterion no longer works"
    visited = {v.route for v in VISITS if v.app == app}
    missing = sorted(pages - visited)
    assert not missing, f"page routes of the {app} without a visit in VISITS: {missing}"
    unclassified = sorted(
        r.key for r in found if r.browser and r.key not in visited and r.key not in NOT_PAGES[app]
    )
    assert not unclassified, (
        f"routes of the {app} a browser reaches, neither visited nor in NOT_PAGES: {unclassified}"
    )
    known = {r.key for r in found}
    stale = sorted((visited | set(NOT_PAGES[app])) - known)
    assert not stale, f"VISITS or NOT_PAGES name routes the {app} no longer has: {stale}"


def test_every_visit_has_its_own_screenshot() -> None:
    names = [(v.app, v.name) for v in VISITS]
    assert len(names) == len(set(names))


# --- each page, at each width ------------------------------------------------------------------------


def _probe_nodes(document: dict[str, Any]) -> dict[int, int]:
    """``data-a11y-probe`` index → backend node id, over the whole DOM from CDP."""
    found: dict[int, int] = {}
    stack = [document["root"]]
    while stack:
        node = stack.pop()
        attributes = node.get("attributes") or []
        for name, value in zip(attributes[::2], attributes[1::2], strict=True):
            if name == "data-a11y-probe":
                found[int(value)] = node["backendNodeId"]
        stack.extend(node.get("children") or [])
        stack.extend(node.get("shadowRoots") or [])
        if "contentDocument" in node:
            stack.append(node["contentDocument"])
    return found


def _level(node: dict[str, Any]) -> int | None:
    for prop in node.get("properties") or []:
        if prop.get("name") == "level":
            return int(prop["value"]["value"])
    return None


def accessibility_problems(b: Browsing, probes: list[str]) -> tuple[list[str], int]:
    """Controls without an accessible name in Chromium's accessibility tree; and the number
    of level-1 headings in it."""
    marked = _probe_nodes(b.cdp.send("DOM.getDocument", {"depth": -1, "pierce": True}))
    tree = b.cdp.send("Accessibility.getFullAXTree")["nodes"]
    by_backend = {n["backendDOMNodeId"]: n for n in tree if "backendDOMNodeId" in n}
    problems = []
    for index, html in enumerate(probes):
        node = by_backend.get(marked.get(index, -1))
        if node is None or node.get("ignored"):
            problems.append(f"not in the accessibility tree: {html}")
            continue
        name = str((node.get("name") or {}).get("value") or "").strip()
        if not name:
            role = (node.get("role") or {}).get("value")
            problems.append(f"no accessible name ({role}): {html}")
    h1 = sum(
        1
        for n in tree
        if not n.get("ignored")
        and (n.get("role") or {}).get("value") == "heading"
        and _level(n) == 1
    )
    return problems, h1


def problems_of(b: Browsing, status: int = 200) -> list[str]:
    """What the page now shown at ``b.width`` owes a newcomer and does not give; ``status`` is
    the HTTP status of the document (a refusal's page: Chromium logs that status as an error)."""
    page = b.page
    seen = page.evaluate(INSPECT, [PROBED, b.width])
    unnamed, h1 = accessibility_problems(b, seen["probes"])
    problems = []
    if seen["lang"] != "ja":
        problems.append(f'<html lang="{seen["lang"]}">, expected "ja"')
    if not seen["title"]:
        problems.append("the title is empty")
    if h1 != 1:
        problems.append(f"{h1} level-1 headings in the accessibility tree, expected one")
    problems += unnamed
    problems += [f"image without alt text: {html}" for html in seen["noAlt"]]
    if seen["scrollWidth"] > b.width:  # (a phone zooms out: innerWidth grows with the page)
        problems.append(
            f"scrolls sideways: {seen['scrollWidth']} px wide at {b.width} px; "
            f"sticking out: {seen['wide']}"
        )
    own_status = f"Failed to load resource: the server responded with a status of {status} "
    problems += [
        f"console error: {text} ({url})"
        for text, url in b.recorder.errors
        if not (status >= 400 and text.startswith(own_status) and url == page.url)
    ]
    problems += [f"request off loopback (aborted): {r}" for r in b.recorder.blocked]
    return problems


BAD_PAGE = """<!doctype html><html><head><title> </title></head><body>
<h1>一</h1><h1>二</h1><button></button><input type="text"><a href="/x"><img src="data:,"></a>
<img src="https://example.invalid/logo.png" alt="ロゴ"><div style="width:600px">広い</div>
<script>console.error("boom")</script></body></html>"""


def test_the_checks_catch_what_they_are_for(browsing: dict[int, Browsing]) -> None:
    """The checks themselves, on a page with one of each fault (and nothing leaves: the
    request to example.invalid is aborted by the route before any lookup)."""
    b = browsing[PHONE]
    b.page.goto("about:blank")  # no app's CSP: the page's faults are its own
    b.recorder.clear()
    b.page.set_content(BAD_PAGE)
    found = "\n".join(problems_of(b))
    for expected in (
        '<html lang="None">',
        "the title is empty",
        "2 level-1 headings",
        "no accessible name (button)",
        "no accessible name (textbox)",
        "no accessible name (link)",
        "image without alt text",
        "scrolls sideways",
        "console error: boom",
        "request off loopback (aborted): GET https://example.invalid/logo.png",
    ):
        assert expected in found, f"{expected!r} not reported:\n{found}"


@pytest.mark.parametrize(
    ("width", "visit"),
    [(w, v) for w in WIDTHS for v in VISITS],
    ids=[f"{v.app}-{v.name}-{w}" for w in WIDTHS for v in VISITS],
)
def test_page(
    browsing: dict[int, Browsing],
    routes: dict[str, list[AppRoute]],
    width: int,
    visit: Visit,
) -> None:
    b = browsing[width]
    b.recorder.clear()
    visit.go(b)
    page = b.page
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")  # Japanese text in the screenshot

    # the page shown is the one the visit is about, and every HTML document came from a page
    app_url = {"issuer": b.pages.issuer.url, "verifier": b.pages.verifier.url}
    pages_of = {
        app: {r.key for r in found if r.html} | {v.route for v in VISITS if v.app == app}
        for app, found in routes.items()
    }
    shown: tuple[str, str, int, str] | None = None
    for method, url, status, kind in b.recorder.documents:
        for app, base in app_url.items():
            if url.startswith(base + "/") or url == base:
                served = urlsplit(url).path or "/"
                route = route_of(routes[app], method, served)
                assert route is not None, f"{method} {url}: no route"
                if kind.startswith("text/html"):
                    assert route.key in pages_of[app], (
                        f"{method} {served} served HTML but is not a page route with a visit"
                    )
                if app == visit.app:
                    shown = (method, route.path, status, kind)
    assert shown is not None, f"no document of the {visit.app} was shown"
    assert shown[:2] == visit.route, f"the page shown is {shown[:2]}, not {visit.route}"
    assert shown[2] == visit.status, f"status {shown[2]}, expected {visit.status}"
    assert shown[3].startswith("text/html"), shown[3]

    shot = artifacts_dir() / "screenshots" / visit.app / f"{visit.name}-{width}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)

    problems = problems_of(b, visit.status)
    assert not problems, f"{visit.app} {visit.name} at {width} px ({shot}):\n" + "\n".join(problems)
