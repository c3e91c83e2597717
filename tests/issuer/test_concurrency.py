"""Concurrent issuance over real uvicorn servers, on PostgreSQL and on SQLite (issue 3).

200 concurrent VC-API issuance requests → 200 credentials with 200 distinct revocation and 200
distinct suspension indexes (in the credentials and in ``status_entries``), no duplicate ids,
and an intact audit chain with 200 ``credential.issue`` events.  Then: lists of 64 entries
that roll over at half full, every published list checked; OID4VCI wallets at once, each
racing its access token on two servers (one credential per offer).

Several uvicorn servers (each its own event loop thread) share one set of services, the
in-process double of N workers behind a load balancer (DESIGN.md §11): the issuance endpoints
run their database work on the event loop, so a single server issues one at a time (pinned
below as a product bug) and the database would never see two issuing transactions at once.
The VC-API tests count how many issuances overlapped and require more than one.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select

from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from issuer import audit, issuance, status
from issuer.db import AuditEvent, IssuedCredential, StatusEntry
from issuer.resolving import LocalStatusLists, tenant_resolver
from schemas.municipalities import municipality_table
from tests.issuer import wallet_sim
from tests.issuer.conftest import LiveServer, World, free_port
from vc import oid4vci
from vc.furusato import resident_credential
from vc.statuslist import BitstringStatusList, parse_status_entries
from vc.verify import VerifyOptions, verify_credential

LG = "015814"
SERVERS = 4  # uvicorn servers sharing the services
WORKERS = 32  # concurrent clients

T = TypeVar("T")
R = TypeVar("R")


def unsigned_resident(issuer: str, holder: str, now: datetime) -> dict[str, Any]:
    """A VCDM 2.0 FurusatoResidentCredential naming 015814, without id and status."""
    valid_from = now.replace(microsecond=0)
    return resident_credential(
        credential_id=None,
        issuer=issuer,
        issuer_name="厚真町",
        municipality=municipality_table().get(LG),
        holder=holder,
        tier="basic",
        registered_since=now.date(),
        valid_from=valid_from,
        valid_until=valid_from + timedelta(days=365),
    )


def holder_did(n: int) -> str:
    key = PrivateKey.from_seed(KeyType.ED25519, n.to_bytes(32, "big"))
    return did_key_from_public_key(key.public_key)


class InFlight:
    """Counts how many ``issue_submitted`` calls overlap (wraps the service function)."""

    def __init__(self, inner: Callable[..., issuance.Issued]) -> None:
        self.inner = inner
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> issuance.Issued:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            return self.inner(*args, **kwargs)
        finally:
            with self._lock:
                self.now -= 1


@dataclass
class Farm:
    """The ``live`` server plus more servers on the same services; round-robin clients."""

    live: LiveServer
    servers: list[LiveServer]
    in_flight: InFlight

    @property
    def world(self) -> World:
        return self.live.world

    def map(self, action: Callable[[httpx.Client, T], R], items: Iterable[T]) -> list[R]:
        """``action(client, item)`` for every item on ``WORKERS`` threads, one client each."""
        local = threading.local()
        clients: list[httpx.Client] = []
        clients_lock = threading.Lock()

        def run(item: T) -> R:
            client: httpx.Client | None = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(timeout=120)
                with clients_lock:
                    clients.append(client)
            return action(client, item)

        try:
            with ThreadPoolExecutor(max_workers=WORKERS) as pool:
                return list(pool.map(run, items))
        finally:
            for client in clients:
                client.close()

    def issue_all(self, count: int) -> list[httpx.Response]:
        """``count`` VC-API issuance requests, round-robin over the servers."""
        issuer = self.world.tenant.did
        headers = {"Authorization": f"Bearer {self.world.staff_token}"}

        def issue(client: httpx.Client, n: int) -> httpx.Response:
            server = self.servers[n % len(self.servers)]
            body = {
                "credential": unsigned_resident(issuer, holder_did(n + 1), datetime.now(UTC)),
                "options": {"credentialStatus": {"type": "BitstringStatusListEntry"}},
            }
            return client.post(f"{server.url}/credentials/issue", json=body, headers=headers)

        return self.map(issue, range(count))


@pytest.fixture
def farm(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Farm]:
    in_flight = InFlight(issuance.issue_submitted)
    monkeypatch.setattr(issuance, "issue_submitted", in_flight)
    with ExitStack() as stack:
        extra = [
            stack.enter_context(LiveServer(live.world, free_port())) for _ in range(SERVERS - 1)
        ]
        yield Farm(live, [live, *extra], in_flight)


def issued_credentials(responses: list[httpx.Response]) -> list[dict[str, Any]]:
    assert Counter(r.status_code for r in responses) == {201: len(responses)}, [
        r.text for r in responses if r.status_code != 201
    ][:3]
    return [r.json()["verifiableCredential"] for r in responses]


def indexes(credentials: list[dict[str, Any]], purpose: str) -> list[tuple[str, int]]:
    return [
        (e.list_url, e.index)
        for c in credentials
        for e in parse_status_entries(c)
        if e.purpose == purpose
    ]


def stored_entries(farm: Farm) -> list[StatusEntry]:
    with farm.world.svc.db.read() as session:
        return list(session.execute(select(StatusEntry).where(StatusEntry.lg_code == LG)).scalars())


def test_200_concurrent_issuances_get_200_distinct_status_indexes(farm: Farm) -> None:
    credentials = issued_credentials(farm.issue_all(200))
    assert farm.in_flight.peak > 1, "the issuing transactions never overlapped"

    ids = [c["id"] for c in credentials]
    assert len(set(ids)) == 200
    assert all(c["credentialSubject"]["municipality"]["lgCode"] == LG for c in credentials)
    for purpose in status.PURPOSES:
        pairs = indexes(credentials, purpose)
        assert len(pairs) == 200
        assert len(set(pairs)) == 200, f"duplicate {purpose} index"

    # the database agrees: one row per (purpose, list, index), each to the right credential
    rows = stored_entries(farm)
    assert len(rows) == 400
    stored = {(r.purpose, r.list_number, r.list_index): r.credential_id for r in rows}
    assert len(stored) == 400
    for credential in credentials:
        for entry in parse_status_entries(credential):
            number = int(entry.list_url.rsplit("/", 1)[1])
            assert stored[(entry.purpose, number, entry.index)] == credential["id"]
    for purpose in status.PURPOSES:
        assert len({r.list_index for r in rows if r.purpose == purpose}) == 200

    with farm.world.svc.db.read() as session:
        records = list(
            session.execute(
                select(IssuedCredential.credential_id).where(IssuedCredential.lg_code == LG)
            ).scalars()
        )
        report = audit.verify_chain(session, LG)
        issue_events = list(
            session.execute(
                select(AuditEvent.subject).where(
                    AuditEvent.lg_code == LG, AuditEvent.action == "credential.issue"
                )
            ).scalars()
        )
    assert sorted(records) == sorted(ids)
    assert report.ok, report
    assert sorted(str(s) for s in issue_events) == sorted(ids)

    # and a few of them verify with the lists as the server publishes them
    svc = farm.world.svc
    options = VerifyOptions(now=datetime.now(UTC), status_lists=LocalStatusLists(svc))
    for credential in credentials[::50]:
        result = verify_credential(credential, resolver=tenant_resolver(svc), options=options)
        assert result.verified, result.to_json()


def test_lists_roll_over_when_full(farm: Farm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status, "LIST_LENGTH", 64)
    svc = farm.world.svc
    svc.settings = dataclasses.replace(svc.settings, status_list_fill=0.5)

    credentials = issued_credentials(farm.issue_all(100))
    assert farm.in_flight.peak > 1, "the issuing transactions never overlapped"
    assert len({c["id"] for c in credentials}) == 100
    numbers: dict[str, set[int]] = {}
    for purpose in status.PURPOSES:
        pairs = indexes(credentials, purpose)
        assert len(set(pairs)) == 100, f"duplicate {purpose} index"
        numbers[purpose] = {int(url.rsplit("/", 1)[1]) for url, _ in pairs}
        assert len(numbers[purpose]) > 1, f"{purpose}: no rollover"
        assert all(0 <= index < 64 for _, index in pairs)
    rows = stored_entries(farm)
    assert len({(r.purpose, r.list_number, r.list_index) for r in rows}) == len(rows) == 200

    # revoke the first credential of each revocation list
    headers = {"Authorization": f"Bearer {farm.world.staff_token}"}
    revoked: dict[str, set[int]] = {}
    with httpx.Client(base_url=farm.live.url, timeout=30) as http:
        for credential in credentials:
            (entry,) = [e for e in parse_status_entries(credential) if e.purpose == "revocation"]
            if entry.list_url in revoked:
                continue
            answer = http.post(f"/admin/api/credentials/{credential['id']}/revoke", headers=headers)
            assert answer.status_code == 200, answer.text
            revoked[entry.list_url] = {entry.index}

        # every published list: our signature, the right size, exactly the bits we set
        resolver = Resolver(documents={farm.world.tenant.did: did_document(http)})
        now = datetime.now(UTC)
        for purpose in status.PURPOSES:
            for number in sorted(numbers[purpose]):
                url = f"{farm.live.url}/status/{LG}/{purpose}/{number}"
                response = http.get(url)
                assert response.status_code == 200, response.text
                document = response.json()
                assert document["id"] == url
                # the list credential itself, not vc.verify's status rule (it wants >= 131,072)
                result = verify_credential(
                    document, resolver=resolver, options=VerifyOptions(now=now)
                )
                assert result.verified, result.to_json()
                subject = document["credentialSubject"]
                assert subject["statusPurpose"] == purpose
                bits = BitstringStatusList.decode(subject["encodedList"])
                assert bits.length == 64
                expected = revoked.get(url, set()) if purpose == "revocation" else set()
                assert {i for i in range(64) if bits.get(i)} == expected


def did_document(http: httpx.Client) -> dict[str, Any]:
    response = http.get(f"/lg/{LG}/did.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_concurrent_wallets_and_a_raced_access_token(farm: Farm) -> None:
    """OID4VCI wallets at once, each sending its credential request twice with the same
    access token to two different servers: one credential per offer, never two."""
    count = 16
    keys = [
        PrivateKey.from_seed(KeyType.ED25519, (1000 + n).to_bytes(32, "big")) for n in range(count)
    ]
    live_url = farm.live.url

    def token(client: httpx.Client, n: int) -> str:
        offer_uri = client.post(f"{live_url}/lg/{LG}/registrations").json()["offerUri"]
        return wallet_sim.redeem(client, wallet_sim.fetch_offer(client, offer_uri))

    tokens = farm.map(token, range(count))
    identifier = farm.world.tenant.identifier

    def request(client: httpx.Client, job: tuple[int, int]) -> tuple[int, httpx.Response]:
        n, attempt = job
        server = farm.servers[(2 * n + attempt) % len(farm.servers)]
        base = f"{server.url}/lg/{LG}"
        nonce = client.post(f"{base}/nonce").json()["c_nonce"]
        proof = oid4vci.create_key_proof(
            keys[n],
            audience=identifier,
            nonce=nonce,
            issued_at=datetime.now(UTC),
            kid=did_key_verification_method_id(keys[n].public_key),
        )
        return n, client.post(
            f"{base}/credential",
            json={
                "credential_configuration_id": oid4vci.FURUSATO_RESIDENT_LDP_ID,
                "proofs": {"jwt": [proof]},
            },
            headers={"Authorization": f"Bearer {tokens[n]}"},
        )

    answers = farm.map(request, [(n, attempt) for n in range(count) for attempt in (0, 1)])
    by_offer: dict[int, list[int]] = {}
    credentials = []
    for n, response in answers:
        by_offer.setdefault(n, []).append(response.status_code)
        if response.status_code == 200:
            credential = response.json()["credentials"][0]["credential"]
            assert credential["credentialSubject"]["id"] == did_key_from_public_key(
                keys[n].public_key
            )
            credentials.append(credential)
        else:
            assert response.status_code == 401, response.text
            assert response.json()["error"] == "invalid_token"
    assert all(sorted(codes) == [200, 401] for codes in by_offer.values()), by_offer
    assert len({c["id"] for c in credentials}) == count
    for purpose in status.PURPOSES:
        assert len(set(indexes(credentials, purpose))) == count
    # the losers left nothing behind: one credential and two status entries per offer
    assert len(stored_entries(farm)) == 2 * count
    with farm.world.svc.db.read() as session:
        stored = session.execute(
            select(IssuedCredential.credential_id).where(IssuedCredential.lg_code == LG)
        ).scalars()
        assert sorted(stored) == sorted(c["id"] for c in credentials)
        assert audit.verify_chain(session, LG).ok


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_one_server_overlaps_concurrent_issuances(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight = InFlight(issuance.issue_submitted)
    monkeypatch.setattr(issuance, "issue_submitted", in_flight)
    farm = Farm(live, [live], in_flight)  # one server only
    assert Counter(r.status_code for r in farm.issue_all(WORKERS)) == {201: WORKERS}
    assert in_flight.peak > 1
