"""Bad input to the issuer service: each refusal a specific 4xx problem, nothing half-written.

Every case runs on SQLite and PostgreSQL (the ``world``/``client`` fixtures).  A refused
request must answer with the exact status, ``application/problem+json`` (``application/json``
with the OAuth ``error`` member on the OID4VCI endpoints), the stable ``code`` and the
message in Japanese and English — and leave the row counts of credentials, status entries,
offers, nonces and the audit log exactly as they were (ISSUE 3, "Bad input").  Where the
design records a refusal on purpose (a wrong ``tx_code`` counts an attempt) the test says
precisely what changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.multibase import base64url_encode
from issuer.db import AuditEvent, IssuedCredential, Nonce, Offer, StatusEntry, StatusList
from schemas.municipalities import check_digit, municipality_table
from tests.issuer.conftest import LiveServer, World
from tests.issuer.wallet_sim import fetch_offer, receive
from vc import oid4vci
from vc.furusato import resident_credential
from vc.presentation import create_presentation, sign_presentation
from vc.statuslist import BitstringStatusList

HOME = "015814"
OTHER = "011002"
ISSUER_URL = f"http://localhost:8000/lg/{HOME}"
CONFIG_ID = oid4vci.FURUSATO_RESIDENT_LDP_ID
PRE_AUTH = oid4vci.PRE_AUTHORIZED_GRANT_TYPE
V2 = "https://www.w3.org/ns/credentials/v2"
PROBLEM_JSON = "application/problem+json"
KANA_OR_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# --- helpers --------------------------------------------------------------------------------

COUNTED = {
    "credentials": IssuedCredential,
    "status_entries": StatusEntry,
    "offers": Offer,
    "nonces": Nonce,
    "audit_log": AuditEvent,
}


def table_counts(world: World) -> dict[str, int]:
    """Row counts of the tables a request could half-write (all tenants)."""
    with world.svc.db.read() as session:
        return {
            name: int(session.execute(select(func.count()).select_from(model)).scalar_one())
            for name, model in COUNTED.items()
        }


@contextmanager
def nothing_written(world: World) -> Iterator[None]:
    """Assert that the block leaves every counted table as it found it."""
    before = table_counts(world)
    yield
    assert table_counts(world) == before


class Cases:
    """Runs every row of a case table in one test (one world per database instead of one per
    row) and reports every failing row, named by its id, not only the first."""

    def __init__(self, table: Sequence[Any]) -> None:
        self.rows: list[tuple[str, tuple[Any, ...]]] = [(str(p.id), tuple(p.values)) for p in table]
        self.failures: list[str] = []

    def __iter__(self) -> Iterator[tuple[str, tuple[Any, ...]]]:
        return iter(self.rows)

    @contextmanager
    def case(self, name: str) -> Iterator[None]:
        try:
            yield
        except AssertionError as exc:
            self.failures.append(f"[{name}] {exc}")

    def check(self) -> None:
        assert not self.failures, "\n\n".join(self.failures)


def assert_problem(
    response: httpx.Response,
    status: int,
    code: str,
    *,
    oauth_error: str | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    """The response is the problem we expect: status, media type, members, messages."""
    assert response.status_code == status, response.text
    media = response.headers["content-type"].split(";")[0].strip()
    body: dict[str, Any] = response.json()
    if oauth_error is None:
        assert media == PROBLEM_JSON
        assert "error" not in body
    else:
        assert media == "application/json"
        assert body["error"] == oauth_error
        description = body["error_description"]
        assert isinstance(description, str)
        assert description
        assert description.isascii()
    assert isinstance(body["type"], str)
    assert body["type"].startswith("https://")
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["status"] == status
    assert body["code"] == code
    messages = body["messages"]
    assert set(messages) == {"ja", "en"}
    assert KANA_OR_KANJI.search(messages["ja"]), messages
    assert messages["en"], messages
    assert not KANA_OR_KANJI.search(messages["en"]), messages
    assert body["detail"] == messages["ja"]  # Japanese unless the client asks for English
    if path is not None:
        assert body["path"] == path
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def holder_key() -> PrivateKey:
    return PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32))


def key_proof(key: PrivateKey, *, nonce: str, now: datetime, audience: str = ISSUER_URL) -> str:
    return oid4vci.create_key_proof(
        key,
        audience=audience,
        nonce=nonce,
        issued_at=now,
        kid=did_key_verification_method_id(key.public_key),
    )


def forged_proof(claimed: PrivateKey, signer: PrivateKey, *, nonce: str, now: datetime) -> str:
    """A proof whose header names ``claimed``'s did:key but which ``signer`` signed."""

    def part(value: Mapping[str, Any]) -> str:
        return base64url_encode(json.dumps(value, separators=(",", ":")).encode())

    header = {
        "alg": "EdDSA",
        "typ": "openid4vci-proof+jwt",
        "kid": did_key_verification_method_id(claimed.public_key),
    }
    payload = {"aud": ISSUER_URL, "iat": int(now.timestamp()), "nonce": nonce}
    signing_input = f"{part(header)}.{part(payload)}"
    return f"{signing_input}.{base64url_encode(signer.sign(signing_input.encode()))}"


def credential_body(*proofs: str) -> dict[str, Any]:
    return {"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": list(proofs)}}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def offer_row(world: World, code: str) -> Offer:
    with world.svc.db.read() as session:
        row = session.execute(
            select(Offer).where(Offer.lg_code == HOME, Offer.code_hash == sha256(code))
        ).scalar_one()
        session.expunge(row)
        return row


def nonce_used(world: World, nonce: str) -> bool:
    with world.svc.db.read() as session:
        row = session.get(Nonce, (HOME, nonce))
        assert row is not None
        return row.used_at is not None


def fixed_clock(world: World, moment: datetime) -> None:
    world.svc.clock = lambda: moment


def new_offer(client: TestClient) -> oid4vci.CredentialOffer:
    response = client.post(f"/lg/{HOME}/registrations")
    assert response.status_code == 201, response.text
    return fetch_offer(client, response.json()["offerUri"])


def token_form(code: str, **extra: str) -> dict[str, str]:
    return {"grant_type": PRE_AUTH, "pre-authorized_code": code, **extra}


def redeem_ok(client: TestClient, code: str, **extra: str) -> str:
    response = client.post(f"/lg/{HOME}/token", data=token_form(code, **extra))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def fresh_nonce(client: TestClient) -> str:
    response = client.post(f"/lg/{HOME}/nonce")
    assert response.status_code == 200, response.text
    nonce: str = response.json()["c_nonce"]
    return nonce


@dataclass
class Redeemed:
    """A wallet that has its access token and a c_nonce, ready to ask for the credential."""

    offer: oid4vci.CredentialOffer
    token: str
    key: PrivateKey
    nonce: str


@pytest.fixture
def redeemed(client: TestClient) -> Redeemed:
    offer = new_offer(client)
    token = redeem_ok(client, offer.pre_authorized_code)
    return Redeemed(offer, token, holder_key(), fresh_nonce(client))


def ask_credential(client: TestClient, token: str, body: Any) -> httpx.Response:
    response: httpx.Response = client.post(
        f"/lg/{HOME}/credential", json=body, headers=bearer(token)
    )
    return response


def assert_credential_flows(client: TestClient, world: World, wallet: Redeemed) -> None:
    """The wallet's token still yields its credential (a refusal did not burn it)."""
    nonce = fresh_nonce(client)
    response = ask_credential(
        client, wallet.token, credential_body(key_proof(wallet.key, nonce=nonce, now=now_of(world)))
    )
    assert response.status_code == 200, response.text
    subject = response.json()["credentials"][0]["credential"]["credentialSubject"]
    assert subject["id"] == did_key_from_public_key(wallet.key.public_key)


def now_of(world: World) -> datetime:
    return world.svc.clock()


def simple_credential(**extra: Any) -> dict[str, Any]:
    return {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "did:example:subject", "name": "ふるさと"},
        **extra,
    }


def issue_with_status(client: TestClient, token: str) -> dict[str, Any]:
    response = client.post(
        "/credentials/issue",
        json={
            "credential": simple_credential(),
            "options": {"credentialStatus": {"type": "BitstringStatusListEntry"}},
        },
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    credential: dict[str, Any] = response.json()["verifiableCredential"]
    return credential


def status_bits(world: World, lg_code: str, credential_id: str) -> dict[str, bool]:
    """The revocation and suspension bits of a credential, read from the stored lists."""
    with world.svc.db.read() as session:
        entries = session.execute(
            select(StatusEntry).where(
                StatusEntry.lg_code == lg_code, StatusEntry.credential_id == credential_id
            )
        ).scalars()
        bits: dict[str, bool] = {}
        for entry in entries:
            row = session.get(StatusList, (lg_code, entry.purpose, entry.list_number))
            assert row is not None
            bits[entry.purpose] = BitstringStatusList(row.length, bytearray(row.bits)).get(
                entry.list_index
            )
        return bits


def unhosted_lg_code() -> str:
    """A well-formed lgCode (correct check digit) that this deployment does not host."""
    return "99999" + str(check_digit("99999"))


# --- JSON bodies: syntax, size, depth, media type ------------------------------------------

MALFORMED_BODIES = [
    pytest.param(b'{"credential": ', id="truncated"),
    pytest.param(b'{"credential": {}} trailing', id="trailing-garbage"),
    pytest.param(b'{"credential": {}, "credential": {}}', id="duplicate-key"),
    pytest.param(b'{"credential": NaN}', id="nan"),
    pytest.param(b'{"credential": "\xff\xfe"}', id="not-utf8"),
    pytest.param(b"", id="empty"),
]


def test_malformed_json_is_400(world: World, client: TestClient) -> None:
    table = Cases(MALFORMED_BODIES)
    for name, (body,) in table:
        with table.case(name), nothing_written(world):
            response = client.post(
                "/credentials/issue",
                content=body,
                headers={**bearer(world.staff_token), "content-type": "application/json"},
            )
            assert_problem(response, 400, "malformed")
    table.check()


def test_malformed_json_on_the_credential_endpoint_is_an_oauth_error(
    world: World, client: TestClient, redeemed: Redeemed
) -> None:
    with nothing_written(world):
        response = client.post(
            f"/lg/{HOME}/credential",
            content=b'{"credential_configuration_id": ',
            headers={**bearer(redeemed.token), "content-type": "application/json"},
        )
    assert_problem(response, 400, "malformed", oauth_error="invalid_request")
    assert_credential_flows(client, world, redeemed)


def _oversized_json() -> bytes:
    return b'{"credential": "' + b"x" * (70 * 1024) + b'"}'


def test_body_over_the_limit_with_content_length_is_413(world: World, client: TestClient) -> None:
    assert world.svc.settings.max_body_bytes == 64 * 1024
    body = _oversized_json()
    with nothing_written(world):
        response = client.post(
            "/credentials/issue",
            content=body,
            headers={**bearer(world.staff_token), "content-type": "application/json"},
        )
    assert response.request.headers["content-length"] == str(len(body))
    assert_problem(response, 413, "limit_exceeded")


def test_registration_body_over_the_limit_is_413(world: World, client: TestClient) -> None:
    with nothing_written(world):
        response = client.post(
            f"/lg/{HOME}/registrations",
            content=_oversized_json(),
            headers={"content-type": "application/json"},
        )
    assert_problem(response, 413, "limit_exceeded")


def _chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_streamed_body_over_the_limit_is_413(world: World, client: TestClient) -> None:
    with nothing_written(world):
        response = client.post(
            "/credentials/issue",
            content=_chunks(_oversized_json()),
            headers={**bearer(world.staff_token), "content-type": "application/json"},
        )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "limit_exceeded")


def test_streamed_body_under_the_limit_is_read(world: World, client: TestClient) -> None:
    """The size counter must not disturb an ordinary chunked body."""
    body = json.dumps({"credential": simple_credential()}).encode()
    before = table_counts(world)
    response = client.post(
        "/credentials/issue",
        content=_chunks(body, 16),
        headers={**bearer(world.staff_token), "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    after = table_counts(world)
    assert after == {
        **before,
        "credentials": before["credentials"] + 1,
        "audit_log": before["audit_log"] + 1,
    }


def test_oversized_body_on_the_credential_endpoint_answers_as_oauth(
    world: World, client: TestClient, redeemed: Redeemed
) -> None:
    with nothing_written(world):
        response = client.post(
            f"/lg/{HOME}/credential",
            content=_oversized_json(),
            headers={**bearer(redeemed.token), "content-type": "application/json"},
        )
    assert_problem(response, 413, "limit_exceeded", oauth_error="invalid_request")


def test_deeply_nested_json_is_refused_with_the_limit_code(
    world: World, client: TestClient
) -> None:
    depth = 200
    body = b'{"credential": ' + b"[" * depth + b"]" * depth + b"}"
    with nothing_written(world):
        response = client.post(
            "/credentials/issue",
            content=body,
            headers={**bearer(world.staff_token), "content-type": "application/json"},
        )
    assert_problem(response, 413, "limit_exceeded")


NON_JSON_MEDIA_TYPES = [
    pytest.param(media, id=str(media))
    for media in ("text/plain", "application/x-www-form-urlencoded", "application/xml", None)
]


def test_non_json_media_type_on_a_json_endpoint_is_415(world: World, client: TestClient) -> None:
    table = Cases(NON_JSON_MEDIA_TYPES)
    for name, (content_type,) in table:
        headers = bearer(world.staff_token)
        if content_type is not None:
            headers["content-type"] = content_type
        with table.case(name), nothing_written(world):
            response = client.post(
                "/credentials/issue",
                content=json.dumps({"credential": simple_credential()}).encode(),
                headers=headers,
            )
            assert_problem(response, 415, "unsupported_media_type")
    table.check()


def test_json_to_the_form_token_endpoint_is_415(world: World, client: TestClient) -> None:
    offer = new_offer(client)
    with nothing_written(world):
        response = client.post(f"/lg/{HOME}/token", json=token_form(offer.pre_authorized_code))
    assert_problem(response, 415, "unsupported_media_type", oauth_error="invalid_request")
    assert offer_row(world, offer.pre_authorized_code).redeemed_at is None
    redeem_ok(client, offer.pre_authorized_code)


def test_text_to_the_credential_endpoint_is_415(
    world: World, client: TestClient, redeemed: Redeemed
) -> None:
    body = credential_body(key_proof(redeemed.key, nonce=redeemed.nonce, now=now_of(world)))
    with nothing_written(world):
        response = client.post(
            f"/lg/{HOME}/credential",
            content=json.dumps(body).encode(),
            headers={**bearer(redeemed.token), "content-type": "text/plain"},
        )
    assert_problem(response, 415, "unsupported_media_type", oauth_error="invalid_request")
    assert not nonce_used(world, redeemed.nonce)


def test_english_is_served_on_request(world: World, client: TestClient) -> None:
    response = client.post(
        "/credentials/issue",
        content=b"{",
        headers={
            **bearer(world.staff_token),
            "content-type": "application/json",
            "accept-language": "en-GB,en;q=0.9,ja;q=0.5",
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == body["messages"]["en"]
    assert not KANA_OR_KANJI.search(body["title"])


# --- lgCode in the path ---------------------------------------------------------------------

# (method, path, oauth) — every per-municipality endpoint; {lg} is replaced.
LG_PATHS = [
    ("GET", "/.well-known/openid-credential-issuer/lg/{lg}", False),
    ("GET", "/.well-known/oauth-authorization-server/lg/{lg}", False),
    ("GET", "/lg/{lg}/did.json", False),
    ("GET", "/status/{lg}/revocation/1", False),
    ("GET", "/lg/{lg}/offers/" + "A" * 32, False),
    ("POST", "/lg/{lg}/registrations", False),
    ("POST", "/lg/{lg}/token", True),
    ("POST", "/lg/{lg}/nonce", True),
    ("POST", "/lg/{lg}/credential", True),
]
LG_ENDPOINTS = [pytest.param(m, p, o, id=f"{m} {p}") for m, p, o in LG_PATHS]
MALFORMED_LG_CODES = ["01581", "0158140", "01581a", "０１５８１４", "-15814"]


def _call(client: TestClient, method: str, path: str) -> httpx.Response:
    response: httpx.Response
    if path.endswith("/token"):
        response = client.post(path, data=token_form("a-code-that-was-never-issued"))
    elif path.endswith("/credential"):
        response = client.post(path, json=credential_body("x.y.z"), headers=bearer("some-token"))
    else:
        response = client.request(method, path)
    return response


def test_unknown_municipality_is_404(world: World, client: TestClient) -> None:
    lg = unhosted_lg_code()
    assert lg not in (HOME, OTHER)
    table = Cases(LG_ENDPOINTS)
    for name, (method, path, oauth) in table:
        with table.case(name), nothing_written(world):
            response = _call(client, method, path.format(lg=lg))
            body = assert_problem(
                response, 404, "not_found", oauth_error="invalid_request" if oauth else None
            )
            assert body.get("path", "lgCode") == "lgCode"
    table.check()


def test_malformed_municipality_code_is_400(world: World, client: TestClient) -> None:
    """Malformed path values are 400 ``malformed`` naming the parameter (the design allows
    400 or 422 for bad input; the service answers 400 throughout)."""
    rows = [
        pytest.param(method, path.format(lg=bad), id=f"{method} {path.format(lg=bad)}")
        for method, path, oauth in LG_PATHS
        if not oauth
        for bad in MALFORMED_LG_CODES
    ]
    table = Cases(rows)
    for name, (method, path) in table:
        with table.case(name), nothing_written(world):
            response = _call(client, method, path)
            assert_problem(response, 400, "malformed", path="lg_code")
    table.check()


def test_malformed_municipality_code_on_oauth_endpoints_answers_as_oauth(
    world: World, client: TestClient
) -> None:
    table = Cases([pytest.param(e, id=e) for e in ("token", "nonce", "credential")])
    for name, (endpoint,) in table:
        with table.case(name), nothing_written(world):
            response = _call(client, "POST", f"/lg/01581a/{endpoint}")
            assert_problem(
                response, 400, "malformed", oauth_error="invalid_request", path="lg_code"
            )
    table.check()


# --- OID4VCI token endpoint -----------------------------------------------------------------

TOKEN_FORMS: list[Any] = [
    pytest.param(
        lambda code: {"grant_type": "authorization_code", "pre-authorized_code": code},
        "unsupported_grant_type",
        "unsupported_grant_type",
        id="wrong-grant-type",
    ),
    pytest.param(
        lambda code: {"pre-authorized_code": code},
        "invalid_request",
        "invalid_request",
        id="missing-grant-type",
    ),
    pytest.param(
        lambda code: {"grant_type": PRE_AUTH},
        "invalid_request",
        "invalid_request",
        id="missing-code",
    ),
    pytest.param(
        lambda code: {"grant_type": PRE_AUTH, "pre_authorized_code": code},
        "invalid_request",
        "invalid_request",
        id="code-spelled-with-underscore",
    ),
    pytest.param(
        lambda code: token_form("never-issued-" + secrets.token_urlsafe(16)),
        "invalid_grant",
        "invalid_grant",
        id="unknown-code",
    ),
    pytest.param(
        lambda code: token_form(code[:-1] + ("A" if code[-1] != "A" else "B")),
        "invalid_grant",
        "invalid_grant",
        id="altered-code",
    ),
    pytest.param(
        lambda code: token_form(code, tx_code="123456"),
        "invalid_request",
        "invalid_request",
        id="tx-code-not-required",
    ),
    pytest.param(
        lambda code: token_form("x" * 2000),
        "invalid_request",
        "invalid_request",
        id="overlong-code",
    ),
]


def test_token_request_refused(world: World, client: TestClient) -> None:
    table = Cases(TOKEN_FORMS)
    for name, (make_form, code, oauth_error) in table:
        offer = new_offer(client)
        with table.case(name):
            with nothing_written(world):
                response = client.post(
                    f"/lg/{HOME}/token", data=make_form(offer.pre_authorized_code)
                )
            assert_problem(response, 400, code, oauth_error=oauth_error)
            row = offer_row(world, offer.pre_authorized_code)
            assert (row.redeemed_at, row.token_hash, row.tx_attempts) == (None, None, 0)
            redeem_ok(client, offer.pre_authorized_code)  # the offer is still good
    table.check()


def test_repeated_token_parameter_is_refused(world: World, client: TestClient) -> None:
    offer = new_offer(client)
    form = (
        f"grant_type={PRE_AUTH}&pre-authorized_code={offer.pre_authorized_code}"
        f"&pre-authorized_code={offer.pre_authorized_code}"
    )
    with nothing_written(world):
        response = client.post(
            f"/lg/{HOME}/token",
            content=form.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert_problem(response, 400, "malformed", oauth_error="invalid_request")
    assert offer_row(world, offer.pre_authorized_code).redeemed_at is None


def test_expired_pre_authorized_code_is_invalid_grant(world: World, client: TestClient) -> None:
    offer = new_offer(client)
    fixed_clock(world, datetime.now(UTC) + world.svc.settings.offer_ttl + timedelta(seconds=1))
    with nothing_written(world):
        response = client.post(f"/lg/{HOME}/token", data=token_form(offer.pre_authorized_code))
    assert_problem(response, 400, "invalid_grant", oauth_error="invalid_grant")
    assert offer_row(world, offer.pre_authorized_code).redeemed_at is None


def test_reused_pre_authorized_code_is_invalid_grant(world: World, client: TestClient) -> None:
    offer = new_offer(client)
    first = redeem_ok(client, offer.pre_authorized_code)
    token_hash = offer_row(world, offer.pre_authorized_code).token_hash
    with nothing_written(world):
        response = client.post(f"/lg/{HOME}/token", data=token_form(offer.pre_authorized_code))
    assert_problem(response, 400, "invalid_grant", oauth_error="invalid_grant")
    assert offer_row(world, offer.pre_authorized_code).token_hash == token_hash == sha256(first)
    # and the first token still works: the second attempt took nothing away
    wallet = Redeemed(offer, first, holder_key(), "")
    assert_credential_flows(client, world, wallet)


def test_offer_document_is_gone_once_redeemed(world: World, client: TestClient) -> None:
    response = client.post(f"/lg/{HOME}/registrations")
    uri = response.json()["offerUri"]
    offer = fetch_offer(client, uri)
    redeem_ok(client, offer.pre_authorized_code)
    reference = uri.split("credential_offer_uri=")[1].replace("%3A", ":").replace("%2F", "/")
    with nothing_written(world):
        again = client.get(reference)
    assert_problem(again, 404, "not_found")


def _counter_offer(client: TestClient, world: World) -> tuple[oid4vci.CredentialOffer, str]:
    response = client.post(
        "/admin/api/offers", json={"txCode": True}, headers=bearer(world.staff_token)
    )
    assert response.status_code == 201, response.text
    tx_code: str = response.json()["txCode"]
    assert re.fullmatch(r"[0-9]{6}", tx_code)
    return fetch_offer(client, response.json()["offerUri"]), tx_code


def _wrong(tx_code: str) -> str:
    return f"{(int(tx_code) + 1) % 10**6:06d}"


def test_tx_code_required_but_missing(world: World, client: TestClient) -> None:
    offer, tx_code = _counter_offer(client, world)
    with nothing_written(world):
        response = client.post(f"/lg/{HOME}/token", data=token_form(offer.pre_authorized_code))
    assert_problem(response, 400, "invalid_request", oauth_error="invalid_request")
    assert offer_row(world, offer.pre_authorized_code).tx_attempts == 0
    redeem_ok(client, offer.pre_authorized_code, tx_code=tx_code)


def test_wrong_tx_code_counts_one_attempt_and_the_right_one_still_works(
    world: World, client: TestClient
) -> None:
    offer, tx_code = _counter_offer(client, world)
    with nothing_written(world):
        response = client.post(
            f"/lg/{HOME}/token",
            data=token_form(offer.pre_authorized_code, tx_code=_wrong(tx_code)),
        )
    assert_problem(response, 400, "invalid_grant", oauth_error="invalid_grant")
    row = offer_row(world, offer.pre_authorized_code)
    assert (row.tx_attempts, row.redeemed_at, row.token_hash) == (1, None, None)
    redeem_ok(client, offer.pre_authorized_code, tx_code=tx_code)
    assert offer_row(world, offer.pre_authorized_code).tx_attempts == 1


def test_too_many_wrong_tx_codes_lock_the_offer(world: World, client: TestClient) -> None:
    offer, tx_code = _counter_offer(client, world)
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    fixed_clock(world, moment)
    created = offer_row(world, offer.pre_authorized_code)
    limit = world.svc.settings.max_tx_code_attempts
    with nothing_written(world):
        for attempt in range(1, limit + 1):
            response = client.post(
                f"/lg/{HOME}/token",
                data=token_form(offer.pre_authorized_code, tx_code=_wrong(tx_code)),
            )
            assert_problem(response, 400, "invalid_grant", oauth_error="invalid_grant")
            row = offer_row(world, offer.pre_authorized_code)
            assert row.tx_attempts == attempt
            # alive until the last allowed guess, then dead at once
            assert row.expires_at == (moment if attempt == limit else created.expires_at)
        # now even the right tx_code is refused, and no further attempt is counted
        response = client.post(
            f"/lg/{HOME}/token", data=token_form(offer.pre_authorized_code, tx_code=tx_code)
        )
    assert_problem(response, 400, "invalid_grant", oauth_error="invalid_grant")
    row = offer_row(world, offer.pre_authorized_code)
    assert (row.tx_attempts, row.redeemed_at, row.token_hash) == (limit, None, None)


def test_one_pre_authorized_code_redeemed_by_ten_threads_yields_one_token(
    live: LiveServer,
) -> None:
    world = live.world
    with httpx.Client(base_url=live.url) as http:
        registered = http.post(f"/lg/{HOME}/registrations")
        assert registered.status_code == 201, registered.text
        offer = fetch_offer(http, registered.json()["offerUri"])
    form = token_form(offer.pre_authorized_code)
    barrier = threading.Barrier(10)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def redeem() -> None:
        with httpx.Client(base_url=live.url, timeout=60) as http:
            barrier.wait()
            response = http.post(f"/lg/{HOME}/token", data=form)
        with lock:
            results.append(response)

    before = table_counts(world)
    threads = [threading.Thread(target=redeem) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert table_counts(world) == before
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [400] * 9, [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200)
    for loser in (r for r in results if r.status_code != 200):
        assert loser.json()["error"] == "invalid_grant"
    row = offer_row(world, offer.pre_authorized_code)
    assert row.token_hash == sha256(winner.json()["access_token"])


def test_one_access_token_used_by_ten_threads_yields_one_credential(live: LiveServer) -> None:
    """Ten concurrent credential requests with one token, each with its own nonce and key:
    exactly one credential is issued (the offer row is locked while it is bound)."""
    world = live.world
    issuer = f"{live.url}/lg/{HOME}"
    with httpx.Client(base_url=live.url) as http:
        offer = fetch_offer(http, http.post(f"/lg/{HOME}/registrations").json()["offerUri"])
        token = http.post(f"/lg/{HOME}/token", data=token_form(offer.pre_authorized_code)).json()[
            "access_token"
        ]
        nonces = [http.post(f"/lg/{HOME}/nonce").json()["c_nonce"] for _ in range(10)]
    now = datetime.now(UTC)
    bodies = [
        credential_body(key_proof(holder_key(), nonce=n, now=now, audience=issuer)) for n in nonces
    ]
    barrier = threading.Barrier(10)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def ask(body: dict[str, Any]) -> None:
        with httpx.Client(base_url=live.url, timeout=60) as http:
            barrier.wait()
            response = http.post(f"/lg/{HOME}/credential", json=body, headers=bearer(token))
        with lock:
            results.append(response)

    before = table_counts(world)
    threads = [threading.Thread(target=ask, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [401] * 9, [r.text for r in results]
    for loser in (r for r in results if r.status_code != 200):
        assert loser.json()["error"] == "invalid_token"
    after = table_counts(world)
    assert after == {
        **before,
        "credentials": before["credentials"] + 1,
        "status_entries": before["status_entries"] + 2,
        "audit_log": before["audit_log"] + 1,
    }


# --- OID4VCI credential endpoint: the access token ------------------------------------------


BAD_AUTHORIZATIONS = [
    pytest.param(None, id="missing"),
    pytest.param("", id="empty"),
    pytest.param("Bearer", id="bearer-without-token"),
    pytest.param("Bearer    ", id="bearer-and-blanks"),
    pytest.param("Basic dXNlcjpwYXNz", id="basic-scheme"),
    pytest.param("Bearer " + secrets.token_urlsafe(32), id="unknown-token"),
]


def test_credential_request_without_a_valid_token_is_401(
    world: World, client: TestClient, redeemed: Redeemed
) -> None:
    body = credential_body(key_proof(redeemed.key, nonce=redeemed.nonce, now=now_of(world)))
    table = Cases(BAD_AUTHORIZATIONS)
    for name, (authorization,) in table:
        headers = {} if authorization is None else {"Authorization": authorization}
        with table.case(name), nothing_written(world):
            response = client.post(f"/lg/{HOME}/credential", json=body, headers=headers)
            assert_problem(response, 401, "invalid_token", oauth_error="invalid_token")
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    table.check()
    assert not nonce_used(world, redeemed.nonce)


def test_token_of_another_municipality_is_401(world: World, client: TestClient) -> None:
    """An access token is bound to the municipality that issued it."""
    offer = new_offer(client)
    token = redeem_ok(client, offer.pre_authorized_code)
    nonce = client.post(f"/lg/{OTHER}/nonce").json()["c_nonce"]
    proof = key_proof(
        holder_key(), nonce=nonce, now=now_of(world), audience=f"http://localhost:8000/lg/{OTHER}"
    )
    with nothing_written(world):
        response = client.post(
            f"/lg/{OTHER}/credential", json=credential_body(proof), headers=bearer(token)
        )
    assert_problem(response, 401, "invalid_token", oauth_error="invalid_token")


def test_expired_access_token_is_401(world: World, client: TestClient, redeemed: Redeemed) -> None:
    later = datetime.now(UTC) + world.svc.settings.token_ttl + timedelta(seconds=1)
    fixed_clock(world, later)
    nonce = fresh_nonce(client)
    with nothing_written(world):
        response = ask_credential(
            client, redeemed.token, credential_body(key_proof(redeemed.key, nonce=nonce, now=later))
        )
    assert_problem(response, 401, "invalid_token", oauth_error="invalid_token")
    assert not nonce_used(world, nonce)


def test_used_access_token_is_401(world: World, client: TestClient, redeemed: Redeemed) -> None:
    assert_credential_flows(client, world, redeemed)
    nonce = fresh_nonce(client)
    with nothing_written(world):
        response = ask_credential(
            client,
            redeemed.token,
            credential_body(key_proof(holder_key(), nonce=nonce, now=now_of(world))),
        )
    assert_problem(response, 401, "invalid_token", oauth_error="invalid_token")
    assert not nonce_used(world, nonce)


# --- OID4VCI credential endpoint: the request and its key proof -----------------------------

Body = Callable[[Redeemed, datetime], Any]


def _with_proof(make: Callable[[Redeemed, datetime], str]) -> Body:
    return lambda w, now: credential_body(make(w, now))


# (body, status, code) — the wallet's real nonce must stay unused and its token usable
CREDENTIAL_REQUESTS: list[Any] = [
    pytest.param(
        _with_proof(
            lambda w, now: key_proof(w.key, nonce="made-up-" + secrets.token_urlsafe(12), now=now)
        ),
        "invalid_nonce",
        id="made-up-c-nonce",
    ),
    pytest.param(
        _with_proof(lambda w, now: forged_proof(w.key, holder_key(), nonce=w.nonce, now=now)),
        "invalid_proof",
        id="signed-by-another-key-than-kid",
    ),
    pytest.param(
        _with_proof(
            lambda w, now: key_proof(
                w.key, nonce=w.nonce, now=now, audience=f"http://localhost:8000/lg/{OTHER}"
            )
        ),
        "invalid_proof",
        id="aud-of-another-municipality",
    ),
    pytest.param(
        _with_proof(lambda w, now: key_proof(w.key, nonce=w.nonce, now=now - timedelta(minutes=6))),
        "invalid_proof",
        id="proof-too-old",
    ),
    pytest.param(
        _with_proof(lambda w, now: key_proof(w.key, nonce=w.nonce, now=now + timedelta(minutes=5))),
        "invalid_proof",
        id="proof-from-the-future",
    ),
    pytest.param(
        _with_proof(lambda w, now: key_proof(w.key, nonce=w.nonce, now=now)[:-4] + "AAAA"),
        "invalid_proof",
        id="broken-signature",
    ),
    pytest.param(
        lambda w, now: {"credential_configuration_id": CONFIG_ID},
        "invalid_proof",
        id="missing-proofs",
    ),
    pytest.param(
        lambda w, now: {"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": []}},
        "invalid_proof",
        id="empty-proofs",
    ),
    pytest.param(
        lambda w, now: credential_body(
            key_proof(w.key, nonce=w.nonce, now=now),
            key_proof(holder_key(), nonce=w.nonce, now=now),
        ),
        "invalid_credential_request",
        id="two-proofs",
    ),
    pytest.param(
        lambda w, now: {
            "credential_configuration_id": CONFIG_ID,
            "proof": {"proof_type": "jwt", "jwt": key_proof(w.key, nonce=w.nonce, now=now)},
        },
        "invalid_credential_request",
        id="legacy-singular-proof",
    ),
    pytest.param(
        lambda w, now: {
            "credential_configuration_id": "UniversityDegreeCredential",
            "proofs": {"jwt": [key_proof(w.key, nonce=w.nonce, now=now)]},
        },
        "unknown_credential_configuration",
        id="unknown-configuration",
    ),
    pytest.param(
        lambda w, now: {
            "credential_identifier": "x",
            "proofs": {"jwt": [key_proof(w.key, nonce=w.nonce, now=now)]},
        },
        "unknown_credential_identifier",
        id="credential-identifier",
    ),
    pytest.param(lambda w, now: [], "invalid_credential_request", id="body-not-an-object"),
]


def test_credential_request_refused(world: World, client: TestClient) -> None:
    table = Cases(CREDENTIAL_REQUESTS)
    for name, (make_body, code) in table:
        offer = new_offer(client)
        wallet = Redeemed(
            offer, redeem_ok(client, offer.pre_authorized_code), holder_key(), fresh_nonce(client)
        )
        with table.case(name):
            body = make_body(wallet, now_of(world))
            with nothing_written(world):
                response = ask_credential(client, wallet.token, body)
            assert_problem(response, 400, code, oauth_error=code)
            assert not nonce_used(world, wallet.nonce)
            assert offer_row(world, offer.pre_authorized_code).credential_id is None
            assert_credential_flows(client, world, wallet)  # the token was not burnt
    table.check()


def test_reused_c_nonce_is_invalid_nonce(world: World, client: TestClient) -> None:
    nonce = fresh_nonce(client)
    first = new_offer(client)
    first_token = redeem_ok(client, first.pre_authorized_code)
    response = ask_credential(
        client,
        first_token,
        credential_body(key_proof(holder_key(), nonce=nonce, now=now_of(world))),
    )
    assert response.status_code == 200, response.text
    second = Redeemed(new_offer(client), "", holder_key(), nonce)
    second.token = redeem_ok(client, second.offer.pre_authorized_code)
    with nothing_written(world):
        response = ask_credential(
            client,
            second.token,
            credential_body(key_proof(second.key, nonce=nonce, now=now_of(world))),
        )
    assert_problem(response, 400, "invalid_nonce", oauth_error="invalid_nonce")
    assert offer_row(world, second.offer.pre_authorized_code).credential_id is None
    assert_credential_flows(client, world, second)


def test_expired_c_nonce_is_invalid_nonce(
    world: World, client: TestClient, redeemed: Redeemed
) -> None:
    # past the nonce's life but within the access token's
    later = datetime.now(UTC) + world.svc.settings.nonce_ttl + timedelta(seconds=1)
    assert later < datetime.now(UTC) + world.svc.settings.token_ttl
    fixed_clock(world, later)
    with nothing_written(world):
        response = ask_credential(
            client,
            redeemed.token,
            credential_body(key_proof(redeemed.key, nonce=redeemed.nonce, now=later)),
        )
    assert_problem(response, 400, "invalid_nonce", oauth_error="invalid_nonce")
    assert not nonce_used(world, redeemed.nonce)
    assert_credential_flows(client, world, redeemed)


def test_c_nonce_of_another_municipality_is_invalid_nonce(
    world: World, client: TestClient, redeemed: Redeemed
) -> None:
    other_nonce = client.post(f"/lg/{OTHER}/nonce").json()["c_nonce"]
    with nothing_written(world):
        response = ask_credential(
            client,
            redeemed.token,
            credential_body(key_proof(redeemed.key, nonce=other_nonce, now=now_of(world))),
        )
    assert_problem(response, 400, "invalid_nonce", oauth_error="invalid_nonce")
    with world.svc.db.read() as session:
        row = session.get(Nonce, (OTHER, other_nonce))
        assert row is not None
        assert row.used_at is None


# --- VC-API: issue --------------------------------------------------------------------------


def _furusato_about(world: World, lg_code: str) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return resident_credential(
        credential_id=None,
        issuer=world.tenant.did,
        issuer_name=world.tenant.name,
        municipality=municipality_table().get(lg_code),
        holder=did_key_from_public_key(holder_key().public_key),
        tier="basic",
        registered_since=date(2027, 1, 1),
        valid_from=now,
        valid_until=now + timedelta(days=30),
    )


IssueBody = Callable[[World], Any]

# (body, status, code, path)
ISSUE_REQUESTS: list[Any] = [
    pytest.param(lambda w: {}, 400, "malformed", "credential", id="credential-missing"),
    pytest.param(
        lambda w: {"credential": "x"}, 400, "malformed", "credential", id="credential-a-string"
    ),
    pytest.param(
        lambda w: {"credential": [simple_credential()]},
        400,
        "malformed",
        "credential",
        id="credential-an-array",
    ),
    pytest.param(lambda w: [simple_credential()], 400, "malformed", None, id="body-an-array"),
    pytest.param(
        lambda w: {"credential": simple_credential(), "options": []},
        400,
        "malformed",
        "options",
        id="options-not-an-object",
    ),
    pytest.param(
        lambda w: {"credential": simple_credential(issuer="did:web:example.com")},
        403,
        "issuer_mismatch",
        "issuer",
        id="issuer-of-another-did",
    ),
    pytest.param(
        lambda w: {"credential": simple_credential(issuer={"id": w.other.did})},
        403,
        "issuer_mismatch",
        "issuer",
        id="issuer-of-another-hosted-municipality",
    ),
    pytest.param(
        lambda w: {"credential": _furusato_about(w, OTHER)},
        403,
        "other_municipality",
        "credentialSubject.municipality.lgCode",
        id="furusato-claims-about-another-municipality",
    ),
    pytest.param(
        lambda w: {"credential": {**simple_credential(), "credentialSubject": {}}},
        400,
        "malformed",
        "credentialSubject",
        id="empty-credential-subject",
    ),
    pytest.param(
        lambda w: {"credential": {k: v for k, v in simple_credential().items() if k != "@context"}},
        400,
        "malformed",
        None,
        id="no-context",
    ),
    pytest.param(
        lambda w: {
            "credential": {
                **simple_credential(),
                "credentialSubject": {"id": "did:example:x", "shoeSize": 27},
            }
        },
        400,
        "undefined_term",
        None,
        id="undefined-term",
    ),
    pytest.param(
        lambda w: {
            "credential": simple_credential(),
            "options": {"credentialStatus": {"type": "StatusList2021Entry"}},
        },
        400,
        "malformed",
        "options.credentialStatus",
        id="credential-status-of-another-type",
    ),
    pytest.param(
        lambda w: {"credential": simple_credential(), "options": {"credentialStatus": "yes"}},
        400,
        "malformed",
        "options.credentialStatus",
        id="credential-status-not-an-object",
    ),
    pytest.param(
        lambda w: {"credential": simple_credential(), "options": {"credentialId": 7}},
        400,
        "malformed",
        "options.credentialId",
        id="credential-id-not-a-string",
    ),
    pytest.param(
        lambda w: {
            "credential": simple_credential(
                credentialStatus={
                    "type": "BitstringStatusListEntry",
                    "statusPurpose": "revocation",
                    "statusListIndex": "1",
                    "statusListCredential": "https://example.com/status/1",
                }
            ),
            "options": {"credentialStatus": {"type": "BitstringStatusListEntry"}},
        },
        400,
        "bad_request",
        "credentialStatus",
        id="status-asked-for-a-credential-that-has-one",
    ),
    pytest.param(
        lambda w: {"credential": simple_credential(id="urn:uuid:" + "0" * 80)},
        400,
        "bad_request",
        "id",
        id="credential-id-too-long",
    ),
]


def test_vcapi_issue_refused(world: World, client: TestClient) -> None:
    table = Cases(ISSUE_REQUESTS)
    for name, (make_body, status, code, path) in table:
        with table.case(name), nothing_written(world):
            response = client.post(
                "/credentials/issue", json=make_body(world), headers=bearer(world.staff_token)
            )
            assert_problem(response, status, code, path=path)
    table.check()


ISSUE_AUTHORIZATIONS = [
    pytest.param({}, id="no-token"),
    pytest.param({"Authorization": "Bearer nonsense"}, id="malformed-token"),
    pytest.param({"Authorization": "Bearer fvc_015814_0123456789ab_" + "A" * 43}, id="unknown"),
    pytest.param({"Authorization": "Token abc"}, id="other-scheme"),
]


def test_vcapi_issue_needs_a_valid_token(world: World, client: TestClient) -> None:
    table = Cases(ISSUE_AUTHORIZATIONS)
    for name, (headers,) in table:
        with table.case(name), nothing_written(world):
            response = client.post(
                "/credentials/issue", json={"credential": simple_credential()}, headers=headers
            )
            assert_problem(response, 401, "unauthenticated")
    table.check()


def test_vcapi_issue_with_an_auditor_token_is_403(world: World, client: TestClient) -> None:
    with nothing_written(world):
        response = client.post(
            "/credentials/issue",
            json={"credential": simple_credential()},
            headers=bearer(world.auditor_token),
        )
    assert_problem(response, 403, "insufficient_role")


def test_vcapi_issue_with_a_revoked_token_is_401(world: World, client: TestClient) -> None:
    from issuer.auth import revoke_token

    token_id = world.staff_token.split("_")[2]
    with world.svc.db.transaction() as session:
        revoke_token(session, HOME, token_id, now=datetime.now(UTC), actor="test")
    with nothing_written(world):
        response = client.post(
            "/credentials/issue",
            json={"credential": simple_credential()},
            headers=bearer(world.staff_token),
        )
    assert_problem(response, 401, "unauthenticated")


def test_vcapi_issue_success_writes_exactly_one_credential(
    world: World, client: TestClient
) -> None:
    """The contrast to every refusal above: a success writes the credential, its two status
    entries and one audit event — together."""
    before = table_counts(world)
    credential = issue_with_status(client, world.staff_token)
    assert credential["issuer"] == world.tenant.did
    assert table_counts(world) == {
        **before,
        "credentials": before["credentials"] + 1,
        "status_entries": before["status_entries"] + 2,
        "audit_log": before["audit_log"] + 1,
    }


def test_vcapi_issue_of_an_existing_id_is_409(world: World, client: TestClient) -> None:
    credential = issue_with_status(client, world.staff_token)
    with nothing_written(world):
        response = client.post(
            "/credentials/issue",
            json={
                "credential": simple_credential(id=credential["id"]),
                "options": {"credentialStatus": {"type": "BitstringStatusListEntry"}},
            },
            headers=bearer(world.staff_token),
        )
    assert_problem(response, 409, "conflict", path="id")


# --- VC-API: verify -------------------------------------------------------------------------


def test_vcapi_verify_success_is_200(world: World, client: TestClient) -> None:
    credential = issue_with_status(client, world.staff_token)
    with nothing_written(world):
        response = client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["verified"] is True


def _tampered(world: World, client: TestClient) -> dict[str, Any]:
    credential = issue_with_status(client, world.staff_token)
    credential["credentialSubject"]["name"] = "改ざん"
    return credential


def test_vcapi_verify_tampered_credential_is_400(world: World, client: TestClient) -> None:
    credential = _tampered(world, client)
    with nothing_written(world):
        response = client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body = response.json()
    assert body["verified"] is False
    assert body["code"] == "signature_invalid"
    assert body["status"] == 400
    assert body["type"].endswith("#CRYPTOGRAPHIC_SECURITY_ERROR")
    assert body["title"]
    assert body["detail"]
    first = body["errors"][0]
    assert first["code"] == "signature_invalid"
    assert KANA_OR_KANJI.search(first["message"]["ja"])
    assert first["message"]["en"]


def test_vcapi_verify_failure_carries_messages_like_every_problem(
    world: World, client: TestClient
) -> None:
    credential = _tampered(world, client)
    response = client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert_problem(response, 400, "signature_invalid")


VERIFY_REQUESTS = [
    pytest.param({}, "verifiableCredential", id="missing"),
    pytest.param({"verifiableCredential": "eyJ..."}, "verifiableCredential", id="a-string"),
    pytest.param({"verifiableCredential": {}, "options": 1}, "options", id="options-not-object"),
]


def test_vcapi_verify_malformed_request_is_400(world: World, client: TestClient) -> None:
    table = Cases(VERIFY_REQUESTS)
    for name, (body, path) in table:
        with table.case(name), nothing_written(world):
            response = client.post("/credentials/verify", json=body)
            assert_problem(response, 400, "malformed", path=path)
    table.check()


def _presentation(client: TestClient, challenge: str) -> dict[str, Any]:
    key = holder_key()
    received = receive(client, new_offer_uri(client), key)
    holder = did_key_from_public_key(key.public_key)
    return sign_presentation(
        create_presentation([received.credential], holder=holder),
        key,
        verification_method=did_key_verification_method_id(key.public_key),
        challenge=challenge,
        domain="verifier.example",
        created=datetime.now(UTC),
    )


def new_offer_uri(client: TestClient) -> str:
    response = client.post(f"/lg/{HOME}/registrations")
    assert response.status_code == 201, response.text
    uri: str = response.json()["offerUri"]
    return uri


def test_vcapi_presentation_with_the_right_challenge_is_200(
    world: World, client: TestClient
) -> None:
    presentation = _presentation(client, "challenge-1")
    response = client.post(
        "/presentations/verify",
        json={
            "verifiablePresentation": presentation,
            "options": {"challenge": "challenge-1", "domain": "verifier.example"},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["verified"] is True


def test_vcapi_presentation_with_a_wrong_challenge_is_400(world: World, client: TestClient) -> None:
    presentation = _presentation(client, "challenge-1")
    with nothing_written(world):
        response = client.post(
            "/presentations/verify",
            json={
                "verifiablePresentation": presentation,
                "options": {"challenge": "challenge-2", "domain": "verifier.example"},
            },
        )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body = response.json()
    assert (body["verified"], body["code"], body["status"]) == (False, "challenge_mismatch", 400)
    assert "challenge_mismatch" in body["codes"]


def test_vcapi_presentation_challenge_not_a_string_is_400(world: World, client: TestClient) -> None:
    with nothing_written(world):
        response = client.post(
            "/presentations/verify",
            json={"verifiablePresentation": {"type": "x"}, "options": {"challenge": 5}},
        )
    assert_problem(response, 400, "malformed", path="options.challenge")


# --- admin API: state changes ---------------------------------------------------------------


def test_state_change_of_an_unknown_credential_is_404(world: World, client: TestClient) -> None:
    unknown = "urn:uuid:00000000-0000-4000-8000-000000000000"
    table = Cases([pytest.param(a, id=a) for a in ("revoke", "suspend", "reinstate")])
    for name, (action,) in table:
        with table.case(name), nothing_written(world):
            response = client.post(
                f"/admin/api/credentials/{unknown}/{action}", headers=bearer(world.staff_token)
            )
            assert_problem(response, 404, "not_found", path="credentialId")
    table.check()


# (first actions that succeed, then the refused action)
REFUSED_TRANSITIONS = [
    pytest.param(["revoke"], "revoke", id="revoke-twice"),
    pytest.param([], "reinstate", id="reinstate-an-active-one"),
    pytest.param(["suspend"], "suspend", id="suspend-twice"),
    pytest.param(["revoke"], "suspend", id="suspend-a-revoked-one"),
    pytest.param(["revoke"], "reinstate", id="reinstate-a-revoked-one"),
    pytest.param(["suspend", "revoke"], "reinstate", id="reinstate-revoked-after-suspension"),
]


def test_state_change_from_the_wrong_state_is_409(world: World, client: TestClient) -> None:
    table = Cases(REFUSED_TRANSITIONS)
    for name, (done, refused) in table:
        with table.case(name):
            credential_id = issue_with_status(client, world.staff_token)["id"]
            for action in done:
                response = client.post(
                    f"/admin/api/credentials/{credential_id}/{action}",
                    headers=bearer(world.staff_token),
                )
                assert response.status_code == 200, response.text
            bits = status_bits(world, HOME, credential_id)
            with nothing_written(world):
                response = client.post(
                    f"/admin/api/credentials/{credential_id}/{refused}",
                    headers=bearer(world.staff_token),
                )
            assert_problem(response, 409, "invalid_state")
            assert status_bits(world, HOME, credential_id) == bits
    table.check()


def test_state_change_of_a_credential_without_status_is_409(
    world: World, client: TestClient
) -> None:
    response = client.post(
        "/credentials/issue",
        json={"credential": simple_credential()},
        headers=bearer(world.staff_token),
    )
    assert response.status_code == 201, response.text
    credential_id = response.json()["verifiableCredential"]["id"]
    with nothing_written(world):
        response = client.post(
            f"/admin/api/credentials/{credential_id}/revoke", headers=bearer(world.staff_token)
        )
    assert_problem(response, 409, "no_status_entry")
    with world.svc.db.read() as session:
        row = session.get(IssuedCredential, (HOME, credential_id))
        assert row is not None
        assert row.state == "active"


def test_state_change_with_a_bad_reason_is_400(world: World, client: TestClient) -> None:
    credential_id = issue_with_status(client, world.staff_token)["id"]
    table = Cases(
        [
            pytest.param({"reason": 5}, id="reason-not-text"),
            pytest.param({"reason": "x" * 201}, id="reason-too-long"),
        ]
    )
    for name, (body,) in table:
        with table.case(name), nothing_written(world):
            response = client.post(
                f"/admin/api/credentials/{credential_id}/revoke",
                json=body,
                headers=bearer(world.staff_token),
            )
            assert_problem(response, 400, "malformed", path="reason")
    table.check()
    assert status_bits(world, HOME, credential_id) == {"revocation": False, "suspension": False}


OFFER_REQUESTS = [
    pytest.param({"tier": "gold"}, "tier", id="unknown-tier"),
    pytest.param({"txCode": "yes"}, "txCode", id="tx-code-not-boolean"),
    pytest.param({"tier": "basic", "extra": 1}, None, id="unknown-member"),
    pytest.param(["basic"], None, id="not-an-object"),
]


def test_admin_offer_with_bad_input_is_400(world: World, client: TestClient) -> None:
    table = Cases(OFFER_REQUESTS)
    for name, (body, path) in table:
        with table.case(name), nothing_written(world):
            response = client.post(
                "/admin/api/offers", json=body, headers=bearer(world.staff_token)
            )
            assert_problem(response, 400, "malformed", path=path)
    table.check()


def test_admin_offer_with_a_streamed_body_honours_it(world: World, client: TestClient) -> None:
    response = client.post(
        "/admin/api/offers",
        content=_chunks(b'{"tier": "basic", "txCode": true}', 8),
        headers={**bearer(world.staff_token), "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert "txCode" in response.json()


def test_registration_for_premium_is_refused(world: World, client: TestClient) -> None:
    with nothing_written(world):
        response = client.post(f"/lg/{HOME}/registrations", json={"tier": "premium"})
    assert_problem(response, 400, "tier_not_open", path="tier")


@pytest.mark.parametrize(
    "after", [2**31, 2**63, 10**20], ids=["int32-overflow", "int64-overflow", "huge"]
)
def test_audit_cursor_beyond_the_column_range_is_not_a_500(
    world: World, client: TestClient, request: pytest.FixtureRequest, after: int
) -> None:
    """A cursor past every event is an empty page (or a 400), never a 500."""
    response = client.get(f"/admin/api/audit?after={after}", headers=bearer(world.admin_token))
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert response.json() == {"events": []}


def test_overlong_subject_id_is_refused_or_kept_whole_on_every_backend(
    world: World, client: TestClient, request: pytest.FixtureRequest
) -> None:
    """A 600-character subject id: SQLite stores it (201); PostgreSQL must not answer 500."""
    credential = simple_credential()
    credential["credentialSubject"]["id"] = "did:example:" + "a" * 600
    response = client.post(
        "/credentials/issue", json={"credential": credential}, headers=bearer(world.staff_token)
    )
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert_problem(response, 400, "malformed", path="credentialSubject.id")
