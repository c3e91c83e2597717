"""Status lists at scale (issue 9): a municipality with 5 million registrations, and a verifier
holding every municipality's lists.

Run: ``python bench/bench_status.py [--registrations 5000000] [--runs 30]
[--national-registrations 100000000] [--check-runs 200]
[--sqlite-only | --postgres-only | --issuer-only | --verifier-only]
[--admin-url postgresql://postgres@127.0.0.1:5432/test]`` (≈ 12 minutes in all; the bulk loads
are most of it).

Issuer side, for SQLite (a file in a temporary directory) and PostgreSQL (a new database on the
server of ``--admin-url``, dropped afterwards):

1. one municipality (015814) with ``--registrations`` credentials, each with a revocation and a
   suspension entry at random indexes of lists of ``issuer.status.LIST_LENGTH`` entries filled
   to ``status_list_fill`` (the full ones marked full, as roll-over leaves them); 1 % revoked and
   0.2 % suspended, their bits set.  Bulk-inserted into the migrated schema: ``COPY`` on
   PostgreSQL (foreign-key triggers off for the loading session when it is a superuser's:
   the rows are consistent by construction), ``executemany`` in transactions of 500,000 rows
   on SQLite; the secondary indexes of ``status_entries`` and ``credentials`` are dropped for
   the load and created again from the models (the same DDL); then ``VACUUM ANALYZE`` /
   ``ANALYZE`` and a WAL checkpoint, as in a settled database.  A second municipality (011002)
   has one list filled to 89 % — the worst case of allocation just before its roll-over;
2. timed, in process: allocating one more credential's two entries (a committed transaction,
   as issuance does; after 30 untimed ones: the first inserts after a bulk load read the new
   indexes from disk); revoking one credential (``issuance.change_state``, the admin API's
   transaction) and then fetching its list as a verifier does (``GET /status/…`` through
   Starlette's TestClient, JSON parsed, the revoked bit checked) — the goal is ≤ 100 ms for the
   two together; the GET of an unchanged list, against ``GET /healthz`` (the HTTP floor) and
   ``status.serve_list`` alone; and, as references measured in the same run, signing that list
   alone (``status._sign``: encode + eddsa-rdfc-2022) and encoding it (``Z_RLE``, and
   ``vc.statuslist``'s level-9 GZIP as before issue 9).  The ``storage:`` line gives the size
   of the status tables.

Verifier side: every municipality of the MIC table (1,741) with lists sized for
``--national-registrations`` (default 100 million: ≈ 57,000 per municipality on average; a
skewed distribution with a few municipalities above a million), 1 % of each list revoked, all
signed (a process pool).  The verifier syncs them all (``verifier.sync.sync`` with an
in-memory fetch: every list verified and written to the cache directory), then:

* memory of the verifier holding every list: the ``VerifierCache`` after reading each list once
  (tracemalloc; and the RSS growth of a fresh process doing the same), against the raw
  bitstrings alone (bytes);
* the status check is O(1): ``verifier.check.check`` of a credential of the largest
  municipality, with only its lists synced and with all of them (memo warm), against the same
  with the memo of verified lists cleared before each check (as before issue 9); the lookup
  alone (cache ``get``; dict + bit test on raw bytes); one list's ``verify_credential`` with and
  without ``verifier.statusmemo``, and decoding its bitstring.

Prints median / min / max per operation and the machine's load before and after (the machine
is shared; a busy one shows in the figures).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlalchemy import Table, insert, text

from bench import national
from bench.common import Timing, database, load, machine, measure
from did.key import did_key_from_public_key
from did.multibase import base64url_decode
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from issuer import issuance, status
from issuer.app import create_app
from issuer.db import IssuedCredential, StatusEntry, StatusList
from issuer.tenants import active_key, get_tenant
from schemas.municipalities import municipality_table
from tests.issuer.conftest import World, make_world
from vc.dates import format_datetime
from vc.furusato import resident_credential
from vc.issue import issue_credential
from vc.registry import Registry, entry_from_did_document, sign_registry
from vc.statuslist import BitstringStatusList, build_status_list_credential
from vc.verify import VerifyOptions, verify_credential
from verifier import statusmemo
from verifier.cache import VerifierCache
from verifier.check import check
from verifier.policy import Policy
from verifier.sync import SyncError, sync

ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
LG = "015814"
SMALL_LG = "011002"
PUBLIC_URL = "http://localhost:8000"
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
REVOKED_SHARE = 0.01
SUSPENDED_SHARE = 0.002
WORST_FILL = 0.89
BATCH = 500_000


# --- the issuer's municipality -----------------------------------------------------------------


def credential_ids(count: int) -> list[str]:
    """``count`` credential ids: random-looking version 4 UUIDs in increasing order (so the
    credentials' primary key is written in order)."""
    step = (1 << 122) // max(count, 1)
    ids = []
    for k in range(count):
        h = f"{k * step + 0x5A5A5A5:031x}"
        ids.append(f"urn:uuid:{h[:8]}-{h[8:12]}-4{h[12:15]}-8{h[15:18]}-{h[18:30]}")
    return ids


@dataclass
class Loaded:
    """What the bulk load made: the lists and the credentials the timed runs use."""

    lists: dict[str, int]  # purpose → number of lists
    active: list[tuple[str, int]]  # (credential id, its revocation list): not revoked
    seconds: float
    phases: dict[str, float]


def _db_time(moment: datetime) -> str:
    """A time as both backends store ``UTCDateTime`` (naive UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class Writer:
    """Bulk rows into one table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.sqlite = world.svc.db.is_sqlite
        self.raw: Any = world.svc.db.engine.raw_connection()

    def rows(self, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> int:
        count = 0
        if self.sqlite:
            cursor = self.raw.driver_connection.cursor()
            marks = ", ".join("?" for _ in columns)
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == BATCH:
                    cursor.execute("BEGIN")
                    cursor.executemany(statement, batch)
                    cursor.execute("COMMIT")
                    count += len(batch)
                    batch.clear()
            if batch:
                cursor.execute("BEGIN")
                cursor.executemany(statement, batch)
                cursor.execute("COMMIT")
                count += len(batch)
            return count
        connection = self.raw.driver_connection
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            lines: list[str] = []
            for row in rows:
                lines.append("\t".join("\\N" if v is None else str(v) for v in row))
                if len(lines) == 50_000:
                    copy.write("\n".join(lines) + "\n")
                    count += len(lines)
                    lines.clear()
            if lines:
                copy.write("\n".join(lines) + "\n")
                count += len(lines)
        connection.commit()
        return count

    def execute(self, statement: str) -> None:
        if self.sqlite:
            self.raw.driver_connection.execute(statement)
            return
        connection = self.raw.driver_connection
        connection.commit()
        connection.autocommit = True  # VACUUM runs outside a transaction
        try:
            connection.execute(statement)
        finally:
            connection.autocommit = False

    def without_triggers(self) -> None:
        """PostgreSQL: no foreign-key triggers for this session's bulk rows (consistent by
        construction); needs a superuser, else the load is only slower."""
        if self.sqlite:
            return
        try:
            self.execute("SET session_replication_role = replica")
        except Exception as exc:  # not a superuser: keep the checks
            print(f"  (foreign-key checks stay on: {type(exc).__name__})")

    def close(self) -> None:
        if not self.sqlite:
            self.execute("SET session_replication_role = DEFAULT")
        self.raw.close()


SECONDARY = {
    "status_entries": "ix_status_entries_credential",
    "credentials": "ix_credentials_issued",
}


def populate(world: World, registrations: int, rng: random.Random) -> Loaded:
    """``registrations`` credentials of LG with their status entries, and SMALL_LG's 89 % list."""
    started = time.perf_counter()
    fill = world.svc.settings.status_list_fill
    per_list = int(status.LIST_LENGTH * fill)
    key_id = "key-1"
    with world.svc.db.read() as session:
        tenant = get_tenant(session, LG)
        key_id = active_key(session, world.svc.ring, tenant).key_id
    ids = credential_ids(registrations)
    revoked = set(rng.sample(range(registrations), int(registrations * REVOKED_SHARE)))
    suspended = set(
        rng.sample(range(registrations), int(registrations * SUSPENDED_SHARE))
    ).difference(revoked)
    when, until = _db_time(NOW), _db_time(NOW + timedelta(days=365))
    phases: dict[str, float] = {"generate": time.perf_counter() - started}

    writer = Writer(world)
    writer.without_triggers()
    tables = [cast(Table, StatusEntry.__table__), cast(Table, IssuedCredential.__table__)]
    secondary = [i for t in tables for i in t.indexes if i.name in SECONDARY.values()]
    for ddl in secondary:
        writer.execute(f"DROP INDEX {ddl.name}")

    def credentials() -> Iterator[tuple[Any, ...]]:
        for k in range(registrations):
            state = "revoked" if k in revoked else "suspended" if k in suspended else "active"
            yield (LG, ids[k], "basic", state, "cli", key_id, when, when, until, "ldp_vc", "{}")

    columns = "lg_code credential_id tier state source key_id issued_at valid_from valid_until"
    writer.rows("credentials", (*columns.split(), "format", "document"), credentials())
    phases["credentials"] = time.perf_counter() - started - sum(phases.values())

    lists: dict[str, int] = {}
    active: list[tuple[str, int]] = []
    list_rows: list[dict[str, Any]] = []
    for purpose in status.PURPOSES:
        flagged = revoked if purpose == "revocation" else suspended
        order = list(range(registrations))
        rng.shuffle(order)
        numbers = max(1, math.ceil(registrations / per_list))
        lists[purpose] = numbers
        slot = 0
        for number in range(1, numbers + 1):
            count = min(per_list, registrations - slot)
            indexes_here = sorted(rng.sample(range(status.LIST_LENGTH), count))
            bits = BitstringStatusList(status.LIST_LENGTH)
            owners = order[slot : slot + count]
            slot += count
            for index, k in zip(indexes_here, owners, strict=True):
                if k in flagged:
                    bits.set(index, True)
            if purpose == "revocation":
                candidates = [k for k in owners[:200] if k not in revoked and k not in suspended]
                active.extend((ids[k], number) for k in candidates[:20])
            list_rows.append(
                {
                    "lg_code": LG,
                    "purpose": purpose,
                    "list_number": number,
                    "length": status.LIST_LENGTH,
                    "bits": bytes(bits.bits),
                    "version": len(flagged),
                    "full": number < numbers,
                    "created_at": NOW,
                }
            )
            with world.svc.db.transaction() as session:
                session.execute(insert(StatusList), list_rows[-1:])
            entries = (
                (LG, purpose, number, index, ids[k])
                for index, k in zip(indexes_here, owners, strict=True)
            )
            writer.rows(
                "status_entries",
                ("lg_code", "purpose", "list_number", "list_index", "credential_id"),
                entries,
            )
    # the other municipality: one revocation list at 89 % (allocation's worst case)
    worst = int(status.LIST_LENGTH * WORST_FILL)
    with world.svc.db.transaction() as session:
        session.execute(
            insert(StatusList),
            [
                {
                    "lg_code": SMALL_LG,
                    "purpose": purpose,
                    "list_number": 1,
                    "length": status.LIST_LENGTH,
                    "bits": bytes(status.LIST_LENGTH // 8),
                    "version": 0,
                    "full": False,
                    "created_at": NOW,
                }
                for purpose in status.PURPOSES
            ],
        )
    for purpose in status.PURPOSES:
        writer.rows(
            "status_entries",
            ("lg_code", "purpose", "list_number", "list_index", "credential_id"),
            (
                (SMALL_LG, purpose, 1, index, f"urn:uuid:small-{purpose}-{index}")
                for index in sorted(rng.sample(range(status.LIST_LENGTH), worst))
            ),
        )
    phases["status entries"] = time.perf_counter() - started - sum(phases.values())
    for ddl in secondary:
        with world.svc.db.engine.begin() as connection:
            ddl.create(connection)
    if world.svc.db.is_sqlite:  # the bulk load's WAL written back, as in a settled database
        writer.execute("ANALYZE")
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        writer.execute("VACUUM ANALYZE")
    writer.close()
    phases["indexes, analyze"] = time.perf_counter() - started - sum(phases.values())
    rng.shuffle(active)
    return Loaded(lists, active, time.perf_counter() - started, phases)


def storage(world: World) -> str:
    """What the status tables take on disk (tables and their indexes)."""
    if world.svc.db.is_sqlite:
        path = Path(world.svc.db.engine.url.database or "")
        return f"database file {path.stat().st_size / 1e9:.2f} GB (all tables)"
    sizes = []
    with world.svc.db.engine.connect() as connection:
        for table in ("status_entries", "status_lists", "credentials"):
            total, indexes = connection.execute(
                text(
                    "select pg_total_relation_size(cast(:t as regclass)), "
                    "pg_indexes_size(cast(:t as regclass))"
                ),
                {"t": table},
            ).one()
            sizes.append(f"{table} {total / 1e9:.2f} GB (indexes {indexes / 1e9:.2f})")
    return ", ".join(sizes)


def issuer_times(world: World, loaded: Loaded, runs: int) -> list[Timing]:
    svc = world.svc
    svc.clock = lambda: NOW + timedelta(hours=1)
    fill = svc.settings.status_list_fill
    counter = iter(range(10**9))

    def allocate(lg_code: str) -> None:
        with svc.db.transaction() as session:
            tenant = get_tenant(session, lg_code)
            cid = f"urn:uuid:bench-{lg_code}-{next(counter)}"
            for purpose in status.PURPOSES:
                status.allocate(
                    session,
                    tenant,
                    purpose,
                    cid,
                    now=NOW,
                    randbelow=secrets.randbelow,
                    fill=fill,
                )

    # warm-up: the first inserts after a bulk load read the freshly built indexes from disk
    timings = [
        measure("allocate one credential's 2 entries", lambda: allocate(LG), runs=runs, warmup=30),
        measure(
            f"  same, current list {WORST_FILL:.0%} full (worst)",
            lambda: allocate(SMALL_LG),
            runs=runs,
            warmup=10,
        ),
    ]

    app = create_app(svc)
    victims = iter(loaded.active)
    both: list[float] = []
    revoke_only: list[float] = []
    get_changed: list[float] = []
    with TestClient(app, base_url=PUBLIC_URL) as client:
        last_url = ""
        for run in range(runs + 3):
            victim, number = next(victims)
            url = f"/status/{LG}/revocation/{number}"
            client.get(url)  # published before the change
            start = time.perf_counter_ns()
            issuance.change_state(
                svc.db,
                lg_code=LG,
                credential_id=victim,
                action="revoke",
                now=NOW,
                actor="bench",
            )
            middle = time.perf_counter_ns()
            response = client.get(url)
            document = response.json()
            end = time.perf_counter_ns()
            assert response.status_code == 200, response.text
            if run >= 3:
                both.append((end - start) / 1e6)
                revoke_only.append((middle - start) / 1e6)
                get_changed.append((end - middle) / 1e6)
            last_url = url
            with svc.db.read() as session:
                (entry,) = [
                    e for e in status.entries_of(session, LG, victim) if e.purpose == "revocation"
                ]
            bits = BitstringStatusList.decode(document["credentialSubject"]["encodedList"])
            assert bits.get(entry.list_index), "the revocation is not in the published list"
        timings += [
            Timing("revoke one credential + GET its list (goal)", both),
            Timing("  of which revoke (change_state)", revoke_only),
            Timing("  of which GET the changed list (re-sign)", get_changed),
            measure(
                "GET an unchanged list",
                lambda: client.get(last_url).json(),
                runs=runs,
                warmup=3,
            ),
            measure(
                "  reference: GET /healthz (HTTP in process)",
                lambda: client.get("/healthz").json(),
                runs=runs,
                warmup=3,
            ),
        ]
    number = int(last_url.rsplit("/", 1)[1])
    timings.append(
        measure(
            "  of which serve_list (no HTTP)",
            lambda: status.serve_list(
                svc.db,
                svc.ring,
                LG,
                "revocation",
                number,
                now=svc.clock(),
                validity=svc.settings.status_list_validity,
                ttl=svc.settings.status_list_ttl,
            ),
            runs=runs,
            warmup=3,
        )
    )
    with svc.db.read() as session:
        bits, version = status._bits_of(session, LG, "revocation", number)
        tenant = get_tenant(session, LG)
        key = active_key(session, svc.ring, tenant)
    level9 = BitstringStatusList(bits.length, bits.bits)
    set_count = sum(bin(b).count("1") for b in bits.bits)

    def sign() -> None:
        status._sign(
            tenant,
            key,
            "revocation",
            number,
            bits,
            version,
            now=NOW,
            validity=timedelta(days=2),
            ttl=timedelta(hours=6),
        )

    timings += [
        measure("reference: sign it alone (status._sign)", sign, runs=runs, warmup=3),
        measure(
            f"reference: encode it ({set_count:,} set), Z_RLE",
            bits.encode,
            runs=runs,
            warmup=3,
        ),
        measure("  vc's gzip level 9 (before)", level9.encode, runs=runs, warmup=3),
    ]
    return timings


def issuer_side(args: argparse.Namespace) -> None:
    backends = {"sqlite": ["sqlite"], "postgresql": ["postgresql"]}.get(
        args.backend or "", ["postgresql", "sqlite"]
    )
    for backend in backends:
        with (
            tempfile.TemporaryDirectory() as directory,
            database(
                backend, Path(directory), args.admin_url, prefix="furusato_bench_status"
            ) as url,
        ):
            if url is None:
                continue
            world = make_world(url, Path(directory) / "data", PUBLIC_URL)
            try:
                loaded = populate(world, args.registrations, random.Random(9))
                print(
                    f"\n{backend}: {args.registrations:,} registrations, "
                    f"{sum(loaded.lists.values()):,} lists of {status.LIST_LENGTH:,} entries "
                    f"({2 * args.registrations:,} status entries) "
                    f"bulk-loaded in {loaded.seconds:.1f} s ("
                    + ", ".join(f"{k} {v:.1f} s" for k, v in loaded.phases.items())
                    + ")"
                )
                print(f"storage: {storage(world)}")
                for timing in issuer_times(world, loaded, args.runs):
                    print(timing.line())
            finally:
                world.svc.close()


# --- the verifier: every municipality's lists ------------------------------------------------

NATIONAL_BASE = "https://furusato.example.jp"


def national_sizes(total: int, codes: list[str]) -> dict[str, int]:
    """Registrations per municipality: Zipf-like (exponent 0.7) over the codes in a fixed
    shuffled order — a few municipalities above a million, the median near 30,000."""
    order = list(codes)
    random.Random(17).shuffle(order)
    weights = [1 / (rank + 1) ** 0.7 for rank in range(len(order))]
    scale = total / sum(weights)
    return {code: max(1, int(w * scale)) for code, w in zip(order, weights, strict=True)}


def _municipality_lists(task: tuple[str, int, int, str]) -> list[tuple[str, bytes]]:
    """Sign one municipality's lists (a worker's task): (url, body) of each, and index.json."""
    lg_code, registrations, per_list, now_text = task
    now = datetime.fromisoformat(now_text)
    rng = random.Random(lg_code)
    did = national._did(NATIONAL_BASE, lg_code)
    base = national._status_base(NATIONAL_BASE, lg_code)
    key = national.municipality_key(lg_code)
    files: list[tuple[str, bytes]] = []
    items = []
    numbers = max(1, math.ceil(registrations / per_list))
    for purpose in status.PURPOSES:
        share = REVOKED_SHARE if purpose == "revocation" else SUSPENDED_SHARE
        for number in range(1, numbers + 1):
            allocated = min(per_list, registrations - (number - 1) * per_list)
            bits = status._ListBits(status.LIST_LENGTH)
            for index in rng.sample(range(status.LIST_LENGTH), int(allocated * share)):
                bits.set(index, True)
            url = f"{base}/{purpose}/{number}"
            unsigned = build_status_list_credential(
                list_url=url,
                issuer=did,
                purpose=purpose,
                status_list=bits,
                valid_from=format_datetime(now),
                valid_until=format_datetime(now + timedelta(days=2)),
                ttl_ms=6 * 3600 * 1000,
            )
            signed = issue_credential(
                unsigned, key, verification_method=f"{did}#key-1", created=now
            )
            files.append((url, json.dumps(signed, separators=(",", ":")).encode()))
            items.append({"purpose": purpose, "number": number, "url": url})
    listing = {"lgCode": lg_code, "lists": items}
    files.append((f"{base}/index.json", json.dumps(listing).encode()))
    return files


@dataclass
class Nation:
    directory: Path
    files: dict[str, bytes]
    sizes: dict[str, int]
    seconds: float

    @property
    def lists(self) -> int:
        return sum(1 for url in self.files if not url.endswith("index.json"))

    def fetch(self, url: str, max_bytes: int) -> bytes:
        body = self.files.get(url)
        if body is None:
            raise SyncError(f"{url}: 404", f"{url}: 404", code="http_error")
        return body


def build_nation(directory: Path, total: int) -> Nation:
    """The registry of every municipality and their lists, signed on every core."""
    started = time.perf_counter()
    now = NOW.replace(microsecond=0)
    codes = [m.lg_code for m in municipality_table().municipalities()]
    sizes = national_sizes(total, codes)
    entries = []
    for code in codes:
        did = national._did(NATIONAL_BASE, code)
        document = build_did_document(
            did,
            [
                VerificationKeyEntry(
                    "key-1",
                    national.municipality_key(code).public_key,
                    valid_from=format_datetime(now - timedelta(days=30)),
                )
            ],
        )
        entries.append(
            entry_from_did_document(
                document,
                lg_code=code,
                status_base_url=national._status_base(NATIONAL_BASE, code),
            )
        )
    registry = Registry(
        sequence=1,
        issued_at=now,
        next_update=now + timedelta(days=7),
        entries=entries,
        authority="bench national registry",
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "registry.jws").write_text(
        sign_registry(registry, national.AUTHORITY_KEY, kid="national")
    )
    per_list = int(status.LIST_LENGTH * 0.9)
    tasks = [(code, sizes[code], per_list, now.isoformat()) for code in codes]
    files: dict[str, bytes] = {}
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for result in pool.map(_municipality_lists, tasks, chunksize=16):
            files.update(result)
    return Nation(directory, files, sizes, time.perf_counter() - started)


def holder_of(lg_code: str, numbers: dict[str, int]) -> dict[str, Any]:
    """A credential of ``lg_code`` on its last lists, at indexes that are not set."""
    did = national._did(NATIONAL_BASE, lg_code)
    base = national._status_base(NATIONAL_BASE, lg_code)
    unsigned = resident_credential(
        credential_id="urn:uuid:7d1c6a52-8b0e-4c55-9a43-5e2f1b7c9d10",
        issuer=did,
        issuer_name=municipality_table().get(lg_code).name,
        municipality=municipality_table().get(lg_code),
        holder=did_key_from_public_key(national.HOLDER_KEY.public_key),
        tier="basic",
        registered_since=NOW.date(),
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=364),
        status=[
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": f"{base}/{purpose}/{numbers[purpose]}",
            }
            for purpose, index in (("revocation", 94567), ("suspension", 31000))
        ],
    )
    signed: dict[str, Any] = issue_credential(
        unsigned,
        national.municipality_key(lg_code),
        verification_method=f"{did}#key-1",
        created=NOW - timedelta(days=1),
    )
    return signed


RSS_PROBE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import verifier.check  # the verifier's imports, before the baseline

def rss():
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

from verifier.cache import VerifierCache
urls = json.loads(Path(sys.argv[3]).read_text())
before = rss()
cache = VerifierCache(Path(sys.argv[2]))
assert all(cache.get(url) is not None for url in urls)
print(rss() - before)
"""


def held_rss(cache_dir: Path, urls: list[str], scratch: Path) -> int:
    """RSS growth of a fresh verifier process that reads every list into its cache."""
    listing = scratch / "urls.json"
    listing.write_text(json.dumps(urls))
    root = str(Path(__file__).resolve().parents[1])
    answer = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, root, str(cache_dir), str(listing)],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(answer.stdout.strip().splitlines()[-1])


def traced(make: Callable[[], object]) -> int:
    """Bytes tracemalloc sees allocated for what ``make`` returns (kept alive meanwhile)."""
    gc.collect()
    tracemalloc.start()
    kept = make()
    gc.collect()
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return size


def verifier_side(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        nation = build_nation(root / "national", args.national_registrations)
        sizes = sorted(nation.sizes.values())
        biggest = max(nation.sizes, key=lambda code: nation.sizes[code])
        print(
            f"\nverifier: {len(nation.sizes):,} municipalities, "
            f"{sum(sizes):,} registrations (median {sizes[len(sizes) // 2]:,}, "
            f"largest {sizes[-1]:,} at {biggest}), {nation.lists:,} signed lists "
            f"({sum(len(b) for u, b in nation.files.items() if not u.endswith('index.json')) / 1e6:.1f} MB "
            f"as served), generated in {nation.seconds:.1f} s"
        )
        authority = national.AUTHORITY_KEY.public_key
        registry_file = str(nation.directory / "registry.jws")
        everything = VerifierCache(root / "all")
        started = time.perf_counter()
        report = sync(
            everything,
            registry_source=registry_file,
            authority=authority,
            now=NOW,
            fetch=nation.fetch,
            workers=1,
        )
        assert report.complete, report.failures[:3]
        print(
            f"sync of every list (each verified, written to the cache): "
            f"{time.perf_counter() - started:.1f} s for {report.lists:,} lists"
        )
        alone = VerifierCache(root / "one")
        sync(
            alone,
            registry_source=registry_file,
            authority=authority,
            now=NOW,
            fetch=nation.fetch,
            lg_codes=[biggest],
            workers=1,
        )
        urls = [u for u in nation.files if not u.endswith("index.json")]

        def read_all() -> VerifierCache:
            cache = VerifierCache(root / "all")
            for url in urls:
                assert cache.get(url) is not None
            return cache

        def raw_bits() -> dict[str, bytes]:
            held = {}
            for url in urls:
                subject = json.loads(nation.files[url])["credentialSubject"]
                compressed = base64url_decode(subject["encodedList"][1:], max_length=1 << 24)
                held[url] = zlib.decompress(compressed, 16 + zlib.MAX_WBITS)
            return held

        size = traced(read_all)
        rss = held_rss(root / "all", urls, root)
        print(
            f"memory, VerifierCache holding every list (parsed JSON): {size / 1e6:.1f} MB "
            f"traced ({size / len(urls) / 1e3:.1f} KB a list); a fresh process reading them "
            f"all: RSS +{rss / 1e6:.1f} MB"
        )
        size = traced(raw_bits)
        print(
            f"memory, the raw bitstrings alone (bytes): {size / 1e6:.1f} MB traced "
            f"({size / len(urls) / 1e3:.1f} KB a list)"
        )

        numbers = {
            purpose: max(int(u.rsplit("/", 1)[1]) for u in urls if f"/{biggest}/{purpose}/" in u)
            for purpose in status.PURPOSES
        }
        credential = holder_of(biggest, numbers)
        at = NOW + timedelta(hours=1)
        policy = Policy()
        timings = []
        for label, cache in (("1 municipality synced", alone), ("all synced", everything)):
            held = sum(cache.get(url) is not None for url in urls)  # all it has, in memory
            registry = cache.registry(at)
            label = f"{label} ({held:,} lists held)"

            def run(cache: VerifierCache = cache, registry: Any = registry) -> None:
                result = check(
                    credential,
                    qr=False,
                    policy=policy,
                    now=at,
                    registry=registry,
                    status_lists=cache,
                )
                assert result.verified, result.to_json()

            timings.append(
                measure(f"check a credential, {label}", run, runs=args.check_runs, warmup=5)
            )
        everything_registry = everything.registry(at)
        assert everything_registry is not None

        def unmemoized() -> None:
            statusmemo.PROCESS_MEMO.clear()
            result = check(
                credential,
                qr=False,
                policy=policy,
                now=at,
                registry=everything_registry,
                status_lists=everything,
            )
            assert result.verified

        memo = statusmemo.PROCESS_MEMO
        memo_line = f"memo: {len(memo):,} entries, {memo.hits:,} hits, {memo.misses:,} misses"
        timings.append(
            measure(
                "  reference: memo cleared before each (as before)",
                unmemoized,
                runs=max(20, args.check_runs // 5),
                warmup=2,
            )
        )
        url = f"{national._status_base(NATIONAL_BASE, biggest)}/revocation/{numbers['revocation']}"
        held_bits = raw_bits()
        timings += [
            measure(
                "lookup alone: VerifierCache.get of a list",
                lambda: everything.get(url),
                runs=args.check_runs,
                warmup=5,
            ),
            measure(
                "lookup alone: raw bytes, dict + bit test",
                lambda: held_bits[url][94567 >> 3] >> (7 - (94567 & 7)) & 1,
                runs=args.check_runs,
                warmup=5,
            ),
        ]
        list_document = everything.get(url)
        assert list_document is not None
        resolver = Resolver(documents=everything_registry.did_documents())
        memoized = VerifyOptions(now=at, suites=statusmemo.memoized_suites())
        plain = VerifyOptions(now=at)
        timings += [
            measure(
                "one status list: verify_credential, memo warm",
                lambda: verify_credential(
                    list_document.credential, resolver=resolver, options=memoized
                ),
                runs=args.check_runs,
                warmup=5,
            ),
            measure(
                "  without the memo",
                lambda: verify_credential(
                    list_document.credential, resolver=resolver, options=plain
                ),
                runs=args.check_runs,
                warmup=5,
            ),
            measure(
                "  decode its bitstring (vc does it twice)",
                lambda: BitstringStatusList.decode(
                    list_document.credential["credentialSubject"]["encodedList"]
                ),
                runs=args.check_runs,
                warmup=5,
            ),
        ]
        for timing in timings:
            print(timing.line())
        print(memo_line)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--registrations", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--national-registrations", type=int, default=100_000_000)
    parser.add_argument("--check-runs", type=int, default=200)
    side = parser.add_mutually_exclusive_group()
    side.add_argument("--sqlite-only", dest="backend", action="store_const", const="sqlite")
    side.add_argument("--postgres-only", dest="backend", action="store_const", const="postgresql")
    side.add_argument("--issuer-only", dest="backend", action="store_const", const="issuer")
    side.add_argument("--verifier-only", dest="backend", action="store_const", const="verifier")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"before: {load()}")
    if args.backend != "verifier":
        issuer_side(args)
    if args.backend in (None, "verifier"):
        verifier_side(args)
    print(f"\nafter: {load()}")


if __name__ == "__main__":
    main()
