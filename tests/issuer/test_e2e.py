"""End to end over a real uvicorn server on loopback, on SQLite and PostgreSQL (issue 3).

apply → offer URI → token → nonce → credential with a holder proof → the credential verifies in
our verifier and in Digital Bazaar's JS stack using ONLY what the running server publishes
(its DID document and its status lists, fetched over HTTP) → suspend / reinstate / revoke
through the admin API → the published lists say so.

did:web names ``https://localhost%3A<port>/…``: the fetcher below maps exactly that origin to
the live server over plain http — the faithful local double of DNS + TLS.  Nothing else is
fetched: an unexpected URL fails the test.
"""

from __future__ import annotations

import base64
import html
import re
import secrets
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from did.web import did_web_to_url
from issuer.db import Offer
from tests.interop import conftest as interop_conftest
from tests.interop.jsbridge import JsBridge
from tests.issuer import wallet_sim
from tests.issuer.conftest import LiveServer
from vc.result import VerificationResult
from vc.statuslist import BitstringStatusList, StatusListDocument, parse_status_entries
from vc.verify import VerifyOptions, verify_credential

LG = "015814"

# the session-scoped ``js`` fixture of tests/interop (skips visibly without node)
js = interop_conftest.js


# --------------------------------------------------------------------------- the verifier side


class PublishedWeb:
    """What a verifier on the internet sees of the live server: GETs only, one origin."""

    def __init__(self, http: httpx.Client, live: LiveServer) -> None:
        self.http = http
        self.http_origin = f"http://localhost:{live.port}/"
        self.https_origin = f"https://localhost:{live.port}/"
        self.fetched: list[str] = []

    def fetch_did_web(self, url: str) -> bytes:
        """The did:web fetcher: https://localhost:PORT/… (what did_web_to_url gives) → the
        live server over http; anything else is "not found"."""
        if not url.startswith(self.https_origin):
            raise LookupError(f"not the live server: {url}")
        self.fetched.append(url)
        response = self.http.get(self.http_origin + url[len(self.https_origin) :])
        response.raise_for_status()
        assert response.headers["content-type"].startswith("application/did+json")
        return response.content

    def get(self, url: str) -> StatusListDocument | None:
        """``StatusListSource``: a real GET of the statusListCredential URL."""
        if not url.startswith(self.http_origin):
            return None
        self.fetched.append(url)
        response = self.http.get(url)
        if response.status_code != 200:
            return None
        assert response.headers["content-type"].startswith("application/vc")
        return StatusListDocument(response.json(), retrieved_at=datetime.now(UTC))

    def resolver(self) -> Resolver:
        return Resolver(self.fetch_did_web)  # a fresh cache: the document is fetched each time

    def verify(self, credential: dict[str, Any]) -> VerificationResult:
        options = VerifyOptions(now=datetime.now(UTC), status_lists=self)
        return verify_credential(credential, resolver=self.resolver(), options=options)

    def status_bit(self, credential: dict[str, Any], purpose: str) -> bool:
        """The credential's bit in the list published now for ``purpose``."""
        (entry,) = [e for e in parse_status_entries(credential) if e.purpose == purpose]
        document = self.get(entry.list_url)
        assert document is not None, entry.list_url
        listed = document.credential
        assert listed["id"] == entry.list_url
        assert listed["issuer"] == flow_issuer(credential)
        assert "validUntil" in listed
        subject = listed["credentialSubject"]
        assert subject["statusPurpose"] == purpose
        assert subject["ttl"] > 0
        return BitstringStatusList.decode(subject["encodedList"]).get(entry.index)


def flow_issuer(credential: dict[str, Any]) -> str:
    issuer: str = credential["issuer"]["id"]
    return issuer


def assert_verified(result: VerificationResult) -> None:
    assert result.verified, [(c.check, c.code, c.message_en) for c in result.errors]
    assert result.codes == []


@dataclass
class Flow:
    live: LiveServer
    http: httpx.Client
    web: PublishedWeb

    @property
    def staff(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.live.world.staff_token}"}

    def apply(self) -> str:
        response = self.http.post(f"/lg/{LG}/registrations", json={"tier": "basic"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["tier"] == "basic"
        assert "txCode" not in body
        offer_uri: str = body["offerUri"]
        assert offer_uri.startswith("openid-credential-offer://?credential_offer_uri=")
        return offer_uri

    def change(self, credential_id: str, action: str) -> dict[str, Any]:
        response = self.http.post(
            f"/admin/api/credentials/{credential_id}/{action}",
            headers=self.staff,
            json={"reason": f"e2e {action}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def flow(live: LiveServer) -> Iterator[Flow]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield Flow(live, http, PublishedWeb(http, live))


def new_holder() -> PrivateKey:
    return PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32))


def receive(flow: Flow, offer_uri: str, key: PrivateKey, tx_code: str | None = None) -> Any:
    received = wallet_sim.receive(flow.http, offer_uri, key, tx_code)
    credential = received.credential
    assert credential["credentialSubject"]["id"] == did_key_from_public_key(key.public_key)
    assert credential["issuer"]["id"] == flow.live.world.tenant.did
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", credential["id"])
    return credential


# --------------------------------------------------------------------------- the tests


def test_apply_receive_verify_then_suspend_reinstate_revoke(flow: Flow) -> None:
    key = new_holder()
    credential = receive(flow, flow.apply(), key)
    assert credential["credentialSubject"]["registrationTier"] == "basic"
    assert credential["credentialSubject"]["municipality"]["lgCode"] == LG
    entries = {e.purpose: e for e in parse_status_entries(credential)}
    assert set(entries) == {"revocation", "suspension"}
    for purpose, entry in entries.items():
        assert entry.list_url == f"{flow.live.url}/status/{LG}/{purpose}/1"

    # our verifier, with the DID document and the lists fetched from the running server
    did = flow.live.world.tenant.did
    assert did == f"did:web:localhost%3A{flow.live.port}:lg:{LG}"
    assert did_web_to_url(did) == f"https://localhost:{flow.live.port}/lg/{LG}/did.json"
    assert_verified(flow.web.verify(credential))
    assert flow.web.fetched[0] == did_web_to_url(did)
    assert {e.list_url for e in entries.values()} <= set(flow.web.fetched)

    suspended = flow.change(credential["id"], "suspend")
    assert suspended["state"] == "suspended"
    assert flow.web.status_bit(credential, "suspension") is True
    assert flow.web.status_bit(credential, "revocation") is False
    assert flow.web.verify(credential).codes == ["suspended"]

    assert flow.change(credential["id"], "reinstate")["state"] == "active"
    assert flow.web.status_bit(credential, "suspension") is False
    assert_verified(flow.web.verify(credential))

    assert flow.change(credential["id"], "revoke")["state"] == "revoked"
    assert flow.web.status_bit(credential, "revocation") is True
    assert flow.web.status_bit(credential, "suspension") is False
    assert flow.web.verify(credential).codes == ["revoked"]

    # revocation is final
    again = flow.http.post(
        f"/admin/api/credentials/{credential['id']}/reinstate", headers=flow.staff
    )
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert flow.web.verify(credential).codes == ["revoked"]

    # a second credential of the same lists is untouched by the first one's revocation
    other = receive(flow, flow.apply(), new_holder())
    assert_verified(flow.web.verify(other))


def test_the_other_municipalitys_staff_cannot_revoke(flow: Flow) -> None:
    credential = receive(flow, flow.apply(), new_holder())
    response = flow.http.post(
        f"/admin/api/credentials/{credential['id']}/revoke",
        headers={"Authorization": f"Bearer {flow.live.world.other_staff_token}"},
    )
    assert response.status_code == 404, response.text
    assert flow.web.status_bit(credential, "revocation") is False
    assert_verified(flow.web.verify(credential))


def test_counter_offer_with_tx_code(flow: Flow) -> None:
    response = flow.http.post(
        "/admin/api/offers", headers=flow.staff, json={"tier": "basic", "txCode": True}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["tier"] == "basic"
    tx_code = body["txCode"]
    assert re.fullmatch(r"[0-9]{6}", tx_code)
    offer = wallet_sim.fetch_offer(flow.http, body["offerUri"])
    assert offer.tx_code is not None
    # without the tx_code the token endpoint refuses (and the offer stays usable)
    refused = flow.http.post(
        f"/lg/{LG}/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            "pre-authorized_code": offer.pre_authorized_code,
        },
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_request"

    credential = receive(flow, body["offerUri"], new_holder(), tx_code)
    assert credential["credentialSubject"]["registrationTier"] == "basic"
    assert_verified(flow.web.verify(credential))


def test_premium_is_never_offered_at_the_counter(flow: Flow) -> None:
    """Premium goes through an application (identity, rules, review: tests/premium)."""
    response = flow.http.post(
        "/admin/api/offers", headers=flow.staff, json={"tier": "premium", "txCode": True}
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "premium_requires_application"
    with flow.live.world.svc.db.read() as session:
        offers = session.execute(select(Offer).where(Offer.tier == "premium")).scalars().all()
    assert offers == []


@pytest.mark.interop
def test_the_credential_verifies_in_digital_bazaars_stack(flow: Flow, js: JsBridge) -> None:
    credential = receive(flow, flow.apply(), new_holder())
    did = flow.live.world.tenant.did
    document = flow.web.resolver().resolve(did)  # fetched from the live server
    method = credential["proof"]["verificationMethod"]
    assert method.startswith(did + "#")
    (vm,) = [m for m in document["verificationMethod"] if m["id"] == method]
    documents = {did: document, method: {"@context": document["@context"], **vm}}
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    answer = js.verify_vc(credential, now=now, documents=documents)
    assert answer == {"verified": True, "errors": [], "statusChecked": False, "hasStatus": True}
    # and the key really came from that document: without it, JS cannot verify
    assert js.verify_vc(credential, now=now, documents={})["verified"] is False
    # JS checks no status lists; ours does, from the same server
    assert_verified(flow.web.verify(credential))


# --------------------------------------------------------------------------- the page and its QR


def test_registration_page_qr_decodes_to_the_offer(flow: Flow) -> None:
    page = flow.http.get(f"/lg/{LG}/register")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post"' in page.text

    answer = flow.http.post(f"/lg/{LG}/register")
    assert answer.status_code == 200, answer.text
    text = answer.text
    link = re.search(r'href="(openid-credential-offer://[^"]+)"', text)
    assert link is not None, text
    offer_uri = html.unescape(link.group(1))
    image = re.search(r'<img class="qr" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert image is not None, text
    png = base64.b64decode(image.group(1))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")

    # the QR leads a wallet to a credential that verifies
    credential = receive(flow, offer_uri, new_holder())
    assert_verified(flow.web.verify(credential))

    zxingcpp = pytest.importorskip(
        "zxingcpp", reason="zxing-cpp is not installed: the QR image was not decoded"
    )
    width, height, gray = decode_png_gray(png)
    view = memoryview(gray).cast("B", (height, width))
    barcodes = zxingcpp.read_barcodes(view, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in barcodes] == [offer_uri]


def decode_png_gray(png: bytes) -> tuple[int, int, bytearray]:
    """A small PNG decoder (non-interlaced; grey, palette, RGB(A)) → 8-bit grey pixels."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, palette = 8, b"", b""
    width = height = depth = color = 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", data)
            assert interlace == 0
        elif kind == b"PLTE":
            palette = data
        elif kind == b"IDAT":
            idat += data
        elif kind == b"IEND":
            break
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    bits_per_pixel = channels * depth
    stride = (width * bits_per_pixel + 7) // 8
    step = max(1, bits_per_pixel // 8)
    raw = zlib.decompress(idat)
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind_byte, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up = previous[i]
            corner = previous[i - step] if i >= step else 0
            if kind_byte == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind_byte == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind_byte == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind_byte == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(line)
        previous = line
    gray = bytearray(width * height)
    for y, line in enumerate(rows):
        for x in range(width):
            if depth < 8:
                bit = x * depth
                sample = line[bit // 8] >> (8 - depth - bit % 8) & ((1 << depth) - 1)
                value = sample if color == 3 else sample * 255 // ((1 << depth) - 1)
            else:
                value = line[x * step]
                if color in (2, 6):
                    r, g, b = line[x * step : x * step + 3]
                    value = (r * 299 + g * 587 + b * 114) // 1000
            if color == 3:
                r, g, b = palette[value * 3 : value * 3 + 3]
                value = (r * 299 + g * 587 + b * 114) // 1000
            gray[y * width + x] = value
    return width, height, gray
