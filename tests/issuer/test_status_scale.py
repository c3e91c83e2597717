"""Status lists as the issuer keeps and serves them (issue 9), on SQLite and PostgreSQL.

* a bit flips in place, in the list's bit order (the shared vector), and only its list's
  version counts up; concurrent revocations on one list lose none of their bits;
* a GET serves the published list while it is unchanged — without signing again and
  without taking SQLite's write lock — and re-signs on the first GET after a change (the
  freshness guarantee: a revocation is in every list served after it committed), after half
  of its validity, or after a key rotation;
* storing a signed list never replaces a newer one; ETag and If-None-Match;
* the list's encoding (DEFLATE's run-length strategy) is GZIP that any decoder reads.

Timing is bench/bench_status.py's; nothing here measures speed.
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from did.multibase import base64url_decode
from issuer import issuance, status
from issuer.db import StatusEntry, StatusList
from issuer.tenants import active_key, get_tenant, rotate_key
from schemas.municipalities import municipality_table
from tests.issuer.conftest import World
from vc.furusato import resident_credential
from vc.statuslist import BitstringStatusList

LG = "015814"
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clocked(world: World) -> list[datetime]:
    """The service's clock, set by the test (``moment[0]``)."""
    moment = [T0]
    world.svc.clock = lambda: moment[0]
    return moment


def issue(client: TestClient, world: World, n: int) -> dict[str, Any]:
    """A credential of 015814 with revocation and suspension entries, through the VC-API."""
    holder = did_key_from_public_key(
        PrivateKey.from_seed(KeyType.ED25519, (500 + n).to_bytes(32, "big")).public_key
    )
    unsigned = resident_credential(
        credential_id=None,
        issuer=world.tenant.did,
        issuer_name="厚真町",
        municipality=municipality_table().get(LG),
        holder=holder,
        tier="basic",
        registered_since=T0.date(),
        valid_from=T0,
        valid_until=T0 + timedelta(days=365),
    )
    response = client.post(
        "/credentials/issue",
        json={
            "credential": unsigned,
            "options": {"credentialStatus": {"type": "BitstringStatusListEntry"}},
        },
        headers={"Authorization": f"Bearer {world.staff_token}"},
    )
    assert response.status_code == 201, response.text
    credential: dict[str, Any] = response.json()["verifiableCredential"]
    return credential


def entry_of(credential: dict[str, Any], purpose: str) -> tuple[str, int]:
    (entry,) = [e for e in credential["credentialStatus"] if e["statusPurpose"] == purpose]
    return entry["statusListCredential"], int(entry["statusListIndex"])


def path_of(url: str) -> str:
    return url.removeprefix("http://localhost:8000")


def set_bits(client: TestClient, url: str) -> set[int]:
    response = client.get(path_of(url))
    assert response.status_code == 200, response.text
    bits = BitstringStatusList.decode(response.json()["credentialSubject"]["encodedList"])
    return {i for i in range(bits.length) if bits.get(i)}


def change(world: World, credential_id: str, action: str) -> None:
    issuance.change_state(
        world.svc.db,
        lg_code=LG,
        credential_id=credential_id,
        action=action,
        now=world.svc.clock(),
        actor="test",
    )


class CountingSign:
    """Counts the list signatures (wraps ``status._sign``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._inner = status._sign
        monkeypatch.setattr(status, "_sign", self)

    def __call__(self, *args: Any, **kwargs: Any) -> status.PublishedList:
        self.calls += 1
        return self._inner(*args, **kwargs)


# --- the bitstring, in place -----------------------------------------------------------------


def test_set_bit_in_place_follows_the_list_bit_order(
    world: World, load_vector: Callable[[str], Any]
) -> None:
    """Indexes 5, 42 and 131071 set through ``set_bit`` give the bytes of the vector made
    with Digital Bazaar's vc-bitstring-status-list (tests/vectors/bitstring-status-list)."""
    vector = load_vector("bitstring-status-list/expected.json")["js-generated-slc-unsigned.json"]
    now = world.svc.clock()
    with world.svc.db.transaction() as session:
        tenant = get_tenant(session, LG)
        status._create_list(session, LG, "revocation", 1, now)
        entries = [
            StatusEntry(
                lg_code=LG,
                purpose="revocation",
                list_number=1,
                list_index=index,
                credential_id=f"urn:uuid:vector-{index}",
            )
            for index in vector["setIndices"]
        ]
        session.add_all(entries)
        session.flush()
        assert all(status.set_bit(session, e, True) for e in entries)
        assert not status.set_bit(session, entries[0], True)  # already set: no change
        assert tenant.lg_code == LG
    with world.svc.db.read() as session:
        row = session.get(StatusList, (LG, "revocation", 1))
        assert row is not None
        assert len(row.bits) == vector["uncompressedBytes"]
        non_zero = {str(i): f"{b:02x}" for i, b in enumerate(row.bits) if b}
        assert non_zero == vector["nonZeroBytes"]
        assert row.version == 3
    with world.svc.db.transaction() as session:
        assert status.set_bit(session, entries[1], False)
    with world.svc.db.read() as session:
        row = session.get(StatusList, (LG, "revocation", 1))
        assert row is not None
        assert (row.bits[5], row.version) == (0, 4)


def test_set_bit_refreshes_a_list_the_session_holds(world: World) -> None:
    """The in-place UPDATE expires a ``StatusList`` already loaded in the session."""
    now = world.svc.clock()
    with world.svc.db.transaction() as session:
        status._create_list(session, LG, "suspension", 1, now)
        entry = StatusEntry(
            lg_code=LG, purpose="suspension", list_number=1, list_index=9, credential_id="x"
        )
        session.add(entry)
        session.flush()
        loaded = session.get(StatusList, (LG, "suspension", 1))
        assert loaded is not None
        assert loaded.version == 0
        assert status.set_bit(session, entry, True)
        assert loaded.version == 1
        assert BitstringStatusList(loaded.length, bytearray(loaded.bits)).get(9)


def test_concurrent_revocations_on_one_list_lose_no_bit(
    world: World, client: TestClient, clocked: list[datetime]
) -> None:
    """16 revocations at once on the same list (and GETs of it meanwhile): every bit is in
    the stored list and in the list served afterwards."""
    credentials = [issue(client, world, n) for n in range(16)]
    url = entry_of(credentials[0], "revocation")[0]
    assert {entry_of(c, "revocation")[0] for c in credentials} == {url}
    client.get(path_of(url))

    def revoke(credential: dict[str, Any]) -> None:
        change(world, credential["id"], "revoke")

    def read(_: int) -> None:
        status.serve_list(
            world.svc.db,
            world.svc.ring,
            LG,
            "revocation",
            1,
            now=world.svc.clock(),
            validity=world.svc.settings.status_list_validity,
            ttl=world.svc.settings.status_list_ttl,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        readers = [pool.submit(read, n) for n in range(8)]
        list(pool.map(revoke, credentials))
        for reader in readers:
            reader.result()
    expected = {entry_of(c, "revocation")[1] for c in credentials}
    with world.svc.db.read() as session:
        row = session.get(StatusList, (LG, "revocation", 1))
        assert row is not None
        bits = BitstringStatusList(row.length, bytearray(row.bits))
        assert {i for i in range(bits.length) if bits.get(i)} == expected
    assert set_bits(client, url) == expected


def test_a_list_that_keeps_colliding_rolls_over_instead_of_failing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``MAX_ATTEMPTS`` collisions in a row start the next list even when the (estimated)
    fill is below the threshold: near the threshold that happens by chance, and an issuance
    must not fail with 503 for it."""
    monkeypatch.setattr(status, "LIST_LENGTH", 64)
    now = world.svc.clock()
    with world.svc.db.transaction() as session:
        tenant = get_tenant(session, LG)
        first = status.allocate(
            session, tenant, "revocation", "urn:uuid:a", now=now, randbelow=lambda n: 7, fill=0.99
        )
        second = status.allocate(
            session, tenant, "revocation", "urn:uuid:b", now=now, randbelow=lambda n: 7, fill=0.99
        )
    assert (first.list_number, first.index) == (1, 7)
    assert (second.list_number, second.index) == (2, 7)
    with world.svc.db.read() as session:
        lists = session.execute(
            select(StatusList.list_number, StatusList.full).where(StatusList.lg_code == LG)
        ).all()
    assert sorted((n, bool(f)) for n, f in lists) == [(1, True), (2, False)]


def test_the_fill_estimate_counts_a_sample_of_the_list(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status, "LIST_LENGTH", 1024)
    monkeypatch.setattr(status, "SAMPLE_SLOTS", 256)
    now = world.svc.clock()
    with world.svc.db.transaction() as session:
        status._create_list(session, LG, "revocation", 1, now)
        session.add_all(
            StatusEntry(
                lg_code=LG,
                purpose="revocation",
                list_number=1,
                list_index=index,
                credential_id=f"urn:uuid:{index}",
            )
            for index in [*range(0, 256, 2), *range(256, 1024)]  # half of the sample taken
        )
    with world.svc.db.read() as session:
        assert status._estimated_use(session, LG, "revocation", 1) == 512.0


# --- publication and freshness -------------------------------------------------------------


def test_a_revocation_is_in_the_next_list_served(
    world: World, client: TestClient, clocked: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The freshness guarantee: a GET after the change committed serves it — the list was
    published just before, the clock has not moved, and the GET re-signs once."""
    first, second = issue(client, world, 1), issue(client, world, 2)
    signing = CountingSign(monkeypatch)
    url, index = entry_of(first, "revocation")
    assert set_bits(client, url) == set()
    assert set_bits(client, url) == set()
    signed_before = signing.calls
    change(world, first["id"], "revoke")
    assert set_bits(client, url) == {index}
    assert signing.calls == signed_before + 1

    s_url, s_index = entry_of(second, "suspension")
    assert set_bits(client, s_url) == set()
    change(world, second["id"], "suspend")
    assert set_bits(client, s_url) == {s_index}
    change(world, second["id"], "reinstate")
    assert set_bits(client, s_url) == set()


def test_an_unchanged_list_is_served_as_published_without_signing(
    world: World, client: TestClient, clocked: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = issue(client, world, 1)
    url = path_of(entry_of(credential, "revocation")[0])
    first = client.get(url)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/vc"
    assert first.headers["cache-control"] == (
        f"public, max-age={int(world.svc.settings.status_list_ttl.total_seconds())}"
    )
    signing = CountingSign(monkeypatch)
    clocked[0] = T0 + timedelta(hours=3)
    again = [client.get(url) for _ in range(3)]
    assert signing.calls == 0
    assert all(r.content == first.content for r in again)
    assert all(r.headers["etag"] == first.headers["etag"] for r in again)
    # the same bytes from the database when this process has nothing in memory
    status._SERVED.clear()
    assert client.get(url).content == first.content
    assert signing.calls == 0
    # what the JSON says is what the issuer signed, as a JSON API would render it
    assert first.content == json.dumps(
        first.json(), ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def test_if_none_match_answers_304(
    world: World, client: TestClient, clocked: list[datetime]
) -> None:
    credential = issue(client, world, 1)
    url = path_of(entry_of(credential, "revocation")[0])
    etag = client.get(url).headers["etag"]
    cached = client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})
    assert (cached.status_code, cached.content, cached.headers["etag"]) == (304, b"", etag)
    change(world, credential["id"], "revoke")
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_a_list_is_re_signed_after_half_its_validity_and_after_a_key_rotation(
    world: World, client: TestClient, clocked: list[datetime]
) -> None:
    credential = issue(client, world, 1)
    url = path_of(entry_of(credential, "revocation")[0])
    first = client.get(url).json()
    half = world.svc.settings.status_list_validity / 2
    clocked[0] = T0 + half - timedelta(seconds=1)
    assert client.get(url).json() == first
    clocked[0] = T0 + half + timedelta(seconds=1)
    later = client.get(url).json()
    assert later["validFrom"] != first["validFrom"]

    with world.svc.db.transaction() as session:
        tenant = get_tenant(session, LG)
        rotate_key(
            session,
            world.svc.ring,
            tenant,
            now=clocked[0],
            random_bytes=secrets.token_bytes,
            actor="test",
        )
        new_method = active_key(session, world.svc.ring, tenant).verification_method
    rotated = client.get(url).json()
    assert rotated["proof"]["verificationMethod"] == new_method
    assert later["proof"]["verificationMethod"] != new_method


def test_a_fresh_list_is_served_while_another_writer_holds_sqlite(
    world: World, client: TestClient, clocked: list[datetime]
) -> None:
    """Serving an unchanged list only reads: it does not wait for a writer (on SQLite, one
    writer holds the whole database)."""
    credential = issue(client, world, 1)
    url = entry_of(credential, "revocation")[0]
    client.get(path_of(url))
    served = threading.Event()

    def get() -> None:
        status.serve_list(
            world.svc.db,
            world.svc.ring,
            LG,
            "revocation",
            1,
            now=world.svc.clock(),
            validity=world.svc.settings.status_list_validity,
            ttl=world.svc.settings.status_list_ttl,
        )
        served.set()

    with world.svc.db.transaction() as session:
        # SQLite: this transaction holds the write lock; PostgreSQL: the list rows are locked
        session.execute(select(StatusList.version).with_for_update()).all()
        reader = threading.Thread(target=get)
        reader.start()
        assert served.wait(timeout=20), "serving a fresh list waited for a writer"
    reader.join()


def test_storing_a_signed_list_never_replaces_a_newer_one(
    world: World, client: TestClient, clocked: list[datetime]
) -> None:
    credential = issue(client, world, 1)
    client.get(path_of(entry_of(credential, "revocation")[0]))

    def stored() -> tuple[int | None, datetime | None]:
        with world.svc.db.read() as session:
            row = session.get(StatusList, (LG, "revocation", 1))
            assert row is not None
            return row.published_version, row.published_at

    version, at = stored()
    assert version is not None
    assert at is not None
    older = status.PublishedList(b"{}", version - 1, at + timedelta(hours=1), "x")
    same_but_earlier = status.PublishedList(b"{}", version, at - timedelta(seconds=1), "x")
    newer = status.PublishedList(b'{"n":1}', version + 1, at, "x")
    for candidate in (older, same_but_earlier):
        with world.svc.db.transaction() as session:
            status._store(session, LG, "revocation", 1, candidate)
        assert stored() == (version, at)
    with world.svc.db.transaction() as session:
        status._store(session, LG, "revocation", 1, newer)
    assert stored() == (version + 1, at)


def test_the_public_endpoint_refuses_unknown_lists(
    world: World, client: TestClient, clocked: list[datetime]
) -> None:
    issue(client, world, 1)
    assert client.get(f"/status/{LG}/revocation/2").status_code == 404
    assert client.get(f"/status/{LG}/refresh/1").status_code == 404
    assert client.get("/status/999999/revocation/1").status_code == 404


# --- the encoding ---------------------------------------------------------------------------


@pytest.mark.parametrize("set_count", [0, 1, 1000, 20_000])
def test_list_encoding_is_gzip_and_deterministic(set_count: int) -> None:
    bits = status._ListBits(status.LIST_LENGTH)
    chosen = sorted(secrets.SystemRandom().sample(range(status.LIST_LENGTH), set_count))
    for index in chosen:
        bits.set(index, True)
    encoded = bits.encode()
    assert encoded == bits.encode()
    assert encoded.startswith("u")
    compressed = base64url_decode(encoded[1:], max_length=len(encoded))
    assert gzip.decompress(compressed) == bytes(bits.bits)
    if len(encoded) <= 4096:  # vc's decoder refuses longer ones (pinned in tests/verifier)
        assert BitstringStatusList.decode(encoded).bits == bits.bits
    # never larger than vc's level-9 encoding by more than a tenth (often smaller)
    assert len(encoded) <= len(BitstringStatusList(bits.length, bits.bits).encode()) * 1.1 + 8
