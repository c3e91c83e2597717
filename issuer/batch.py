"""Batch issuance from a file: ``furusato-issuer issue-batch`` (docs/issuer.md).

A municipality that already knows its registrants' keys — moving from an older system, or a
partner that collected registrations — issues their basic credentials in one run.

Input: JSON Lines, one registrant per line: ``{"holder": "did:key:z6Mk…"}`` (optionally
``"tier": "basic"``; premium is issued only through an approved application).  Blank lines
are skipped.  The whole file is checked before anything is issued: a bad line stops the run
with its line number and nothing issued.

Output: JSON Lines, one per registrant in input order: ``{"line": n, "holder": …, "id": …,
"credential": {…}}`` — the signed credential, for the partner to hand to each wallet.  Written
to ``FILE.partial`` and renamed to ``FILE`` at the end; an existing ``FILE`` is never
overwritten.

Work goes in chunks of :data:`CHUNK`.  A chunk is one database transaction: the status entries,
the records and the audit events of its credentials commit together or not at all, and its
lines are appended (and flushed to disk) after the commit.  Signing — the CPU-heavy part —
runs in a pool of worker processes, one per core, while the main process does the database
work.  If a chunk fails, the chunks before it stay issued and written (the message says how
many); nothing of the failed chunk is.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from did.errors import FurusatoError, MalformedValueError
from did.key import public_key_from_did_key
from did.keys import PrivateKey
from issuer import issuance, status
from issuer.bootstrap import Services
from issuer.db import LDP_VC
from issuer.errors import ServiceError
from issuer.tenants import ActiveKey, TenantInfo, active_key, get_tenant
from schemas.municipalities import Municipality, municipality_table
from vc.furusato import resident_credential

CHUNK = 256
MAX_LINE = 2048  # bytes; a did:key line is ~80
MAX_LINES = 10_000_000
_MEMBERS = frozenset({"holder", "tier"})


@dataclass(frozen=True)
class Registrant:
    line: int
    holder: str


@dataclass(frozen=True)
class BatchReport:
    issued: int
    output: Path


class BatchInputError(MalformedValueError):
    """A line of the input is not a registrant; nothing was issued."""


def _line_error(number: int, en: str, ja: str) -> BatchInputError:
    return BatchInputError(f"line {number}: {en}", f"{number} 行目: {ja}", path=f"line {number}")


def _registrant(number: int, raw: bytes) -> Registrant | None:
    if len(raw) > MAX_LINE:
        raise _line_error(
            number, f"longer than {MAX_LINE} bytes", f"{MAX_LINE} バイトを超えています"
        )
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise _line_error(number, "not UTF-8", "UTF-8 ではありません") from None
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise _line_error(number, "not JSON", "JSON ではありません") from None
    if not isinstance(value, dict) or set(value) - _MEMBERS or "holder" not in value:
        raise _line_error(
            number,
            'a line is {"holder": "did:key:…"} (and optionally "tier": "basic")',
            '1 行は {"holder": "did:key:…"} です ("tier": "basic" も可)',
        )
    if value.get("tier", "basic") != "basic":
        raise _line_error(
            number,
            "only basic credentials are issued in a batch (premium needs an approved application)",
            "一括発行はベーシックのみです (プレミアムは承認された申請が必要です)",
        )
    holder = value["holder"]
    if not isinstance(holder, str) or not holder.startswith("did:key:") or len(holder) > 200:
        raise _line_error(number, "holder must be a did:key", "holder は did:key です")
    try:
        public_key_from_did_key(holder)
    except FurusatoError as exc:
        raise _line_error(number, exc.message_en, exc.message_ja) from None
    return Registrant(number, holder)


def read_registrants(stream: IO[bytes]) -> Iterator[Registrant]:
    """The registrants of a JSON Lines stream, checked (raises :class:`BatchInputError`)."""
    for number, raw in enumerate(stream, start=1):
        if number > MAX_LINES:
            raise _line_error(
                number, f"more than {MAX_LINES} lines", f"{MAX_LINES} 行を超えています"
            )
        registrant = _registrant(number, raw.rstrip(b"\r\n"))
        if registrant is not None:
            yield registrant


def check_file(path: Path) -> int:
    """Read the whole input once (constant memory); the number of registrants."""
    with path.open("rb") as stream:
        return sum(1 for _ in read_registrants(stream))


# --- signing in worker processes ---------------------------------------------------------------

_signer: PrivateKey | None = None
_method = ""


def _start_worker(private_jwk: dict[str, str], verification_method: str) -> None:
    global _signer, _method
    _signer, _method = PrivateKey.from_jwk(private_jwk), verification_method


def _sign(job: tuple[dict[str, Any], str]) -> dict[str, Any]:
    from vc.dates import parse_datetime
    from vc.issue import issue_credential

    unsigned, created = job
    assert _signer is not None
    return issue_credential(
        unsigned,
        _signer,
        verification_method=_method,
        created=parse_datetime(created, "created"),
    )


def issue_batch(
    svc: Services,
    lg_code: str,
    source: Path,
    output: Path,
    *,
    now: Callable[[], datetime],
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchReport:
    """Issue a basic credential to every registrant of ``source`` (module docstring)."""
    if output.exists():
        raise ServiceError(
            f"{output} exists: choose a new file (nothing is overwritten)",
            f"{output} は既にあります。新しいファイル名を指定してください (上書きしません)",
            code="output_exists",
        )
    total = check_file(source)
    with svc.db.read() as session:
        tenant = get_tenant(session, lg_code)
        key = active_key(session, svc.ring, tenant)
    municipality = municipality_table().get(lg_code)
    partial = output.with_name(output.name + ".partial")
    issued = 0
    context = multiprocessing.get_context("spawn")  # no inherited database connections
    count = workers or os.cpu_count() or 1
    with (
        ProcessPoolExecutor(
            max_workers=count,
            mp_context=context,
            initializer=_start_worker,
            initargs=(key.signer.to_jwk(include_private=True), key.verification_method),
        ) as pool,
        partial.open("w", encoding="utf-8") as out,
        source.open("rb") as stream,
    ):
        chunk: list[Registrant] = []
        for registrant in read_registrants(stream):
            chunk.append(registrant)
            if len(chunk) == CHUNK:
                issued += _issue_chunk(svc, tenant, municipality, key, chunk, pool, out, now())
                chunk = []
                if progress is not None:
                    progress(issued, total)
        if chunk:
            issued += _issue_chunk(svc, tenant, municipality, key, chunk, pool, out, now())
            if progress is not None:
                progress(issued, total)
    partial.rename(output)
    return BatchReport(issued, output)


def _issue_chunk(
    svc: Services,
    tenant: TenantInfo,
    municipality: Municipality,
    key: ActiveKey,
    chunk: list[Registrant],
    pool: ProcessPoolExecutor,
    out: IO[str],
    now: datetime,
) -> int:
    valid_from = now.replace(microsecond=0)
    valid_until = valid_from + svc.settings.credential_validity
    since = issuance.registered_since(now)
    created = valid_from.isoformat()
    with svc.db.transaction() as session:
        ids = [issuance.new_credential_id() for _ in chunk]
        allocations = {
            purpose: status.allocate_many(
                session,
                tenant,
                purpose,
                ids,
                now=now,
                randbelow=secrets.randbelow,
                fill=svc.settings.status_list_fill,
            )
            for purpose in status.PURPOSES
        }
        jobs = []
        for registrant, credential_id in zip(chunk, ids, strict=True):
            entries = [allocations[p][credential_id].entry() for p in status.PURPOSES]
            unsigned = resident_credential(
                credential_id=credential_id,
                issuer=tenant.did,
                issuer_name=tenant.name,
                municipality=municipality,
                holder=registrant.holder,
                tier="basic",
                registered_since=since,
                valid_from=valid_from,
                valid_until=valid_until,
                status=entries,
            )
            jobs.append((unsigned, created))
        signed = list(pool.map(_sign, jobs, chunksize=max(1, len(jobs) // 8)))
        issuance.record_issued_many(
            session,
            tenant,
            [(c, json.dumps(c, ensure_ascii=False)) for c in signed],
            credential_format=LDP_VC,
            key_id=key.key_id,
            source="batch",
            tier="basic",
            now=now,
            actor="cli:issue-batch",
        )
        lines = [
            json.dumps(
                {"line": r.line, "holder": r.holder, "id": c["id"], "credential": c},
                ensure_ascii=False,
            )
            for r, c in zip(chunk, signed, strict=True)
        ]
    out.write("\n".join(lines) + "\n")
    out.flush()
    os.fsync(out.fileno())
    return len(chunk)
