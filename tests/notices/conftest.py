"""Fixtures of the notices tests: the issuer on loopback (SQLite and PostgreSQL), staff of two
municipalities, registrants of each tier, and helpers that publish notices and read the feed.

``live`` (tests/issuer/conftest.py) serves 015814 厚真町 (admin, staff, auditor tokens) and
011002 札幌市 (a staff token) at http://localhost:<port>.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from did.key import did_key_from_public_key
from did.keys import KeyType, PublicKey, generate_private_key
from did.multibase import base64url_decode
from did.resolver import Resolver
from issuer.issuance import issue_resident
from tests.issuer.conftest import LiveServer, World
from tests.issuer.conftest import database_url as database_url  # SQLite and PostgreSQL
from tests.issuer.conftest import live as live
from tests.issuer.conftest import pg_template as pg_template
from tests.issuer.conftest import pg_url as pg_url
from tests.premium.conftest import HTTP_TIMEOUT as HTTP_TIMEOUT
from tests.premium.conftest import Registrant as Registrant
from vc.dates import format_datetime

LG = "015814"  # 北海道 厚真町
OTHER = "011002"  # 北海道 札幌市
PROBLEM_JSON = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def staff(live: LiveServer, lg_code: str = LG) -> httpx.Client:
    """The admin API as staff of ``lg_code``."""
    world = live.world
    token = world.staff_token if lg_code == LG else world.other_staff_token
    return httpx.Client(base_url=live.url, headers=bearer(token), timeout=HTTP_TIMEOUT)


def notice_body(topic: str = "防災", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "topic": topic,
        "title": {"ja": f"{topic}のお知らせ", "en": f"A notice ({topic})"},
        "body": {"ja": "本文です。\n二行目です。", "en": "The text.\nSecond line."},
    }
    body.update(extra)
    return body


def call_body(places: int = 2, *, hours: float = 24, **extra: Any) -> dict[str, Any]:
    deadline = datetime.now(UTC) + timedelta(hours=hours)
    body = notice_body(
        "募集", call={"places": places, "deadline": format_datetime(deadline)}, **extra
    )
    body["title"] = {"ja": "雪かきボランティア募集", "en": "Snow clearing volunteers"}
    return body


def publish(live: LiveServer, body: dict[str, Any], lg_code: str = LG) -> dict[str, Any]:
    with staff(live, lg_code) as api:
        created = api.post("/admin/api/notices", json=body)
    assert created.status_code == 201, created.text
    notice: dict[str, Any] = created.json()
    return notice


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> Any:
    """A 4xx problem+json with messages in both languages (and ``code`` when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON, response.headers
    body = response.json()
    assert body["status"] == status
    assert set(body["messages"]) == {"ja", "en"}
    assert body["messages"]["ja"]
    assert body["messages"]["en"]
    if code is not None:
        assert body["code"] == code, body
    return body


def jws_parts(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = text.split(".")
    return json.loads(base64url_decode(header)), json.loads(base64url_decode(payload))


def get_feed(live: LiveServer, lg_code: str = LG, **params: Any) -> httpx.Response:
    return httpx.get(f"{live.url}/lg/{lg_code}/notices", params=params, timeout=HTTP_TIMEOUT)


def feed_claims(live: LiveServer, lg_code: str = LG, **params: Any) -> dict[str, Any]:
    response = get_feed(live, lg_code, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/jwt"
    return jws_parts(response.text)[1]


def resolver() -> Resolver:
    def fetch(url: str) -> bytes:
        response = httpx.get(url.replace("https://", "http://", 1), timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.content

    return Resolver(fetch)


def key_of(kid: str) -> PublicKey:
    """The key a feed names, from the municipality's DID document (as the wallet finds it)."""
    from did.document import public_key_from_verification_method

    return public_key_from_verification_method(resolver().dereference(kid, "assertionMethod"))


def premium_registrant(world: World, base_url: str, lg_code: str = LG) -> Registrant:
    """A premium registration (issued by the issuer's own function: the premium process has
    its own tests) with its key, able to present it over HTTP."""
    holder = generate_private_key(KeyType.ED25519, secrets.token_bytes)
    issued = issue_resident(
        world.svc.db,
        world.svc.ring,
        world.svc.settings,
        lg_code=lg_code,
        holder=did_key_from_public_key(holder.public_key),
        tier="premium",
        now=datetime.now(UTC),
        source="test",
        actor="test",
    )
    return Registrant(base_url, lg_code, issued.credential, holder)


def answer(
    resident: Registrant, notice_id: str, message: str | None = None, *, lg_code: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"presentation": resident.presentation()}
    if message is not None:
        body["message"] = message
    return httpx.post(
        f"{resident.base_url}/lg/{lg_code or resident.lg_code}/notices/{notice_id}/responses",
        json=body,
        timeout=HTTP_TIMEOUT,
    )


def withdraw(resident: Registrant, notice_id: str) -> httpx.Response:
    return httpx.post(
        f"{resident.issuer_url}/notices/{notice_id}/responses/withdraw",
        json={"presentation": resident.presentation()},
        timeout=HTTP_TIMEOUT,
    )


@contextmanager
def clock_at(world: World, moment: datetime) -> Iterator[None]:
    """The issuer's clock set to ``moment`` for a while (time is a parameter of the service)."""
    real = world.svc.clock
    offset = moment - datetime.now(UTC)
    world.svc.clock = lambda: datetime.now(UTC) + offset
    try:
        yield
    finally:
        world.svc.clock = real
