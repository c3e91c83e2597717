"""Batch issuance from a file (issuer.batch, ``furusato-issuer issue-batch``), SQLite and
PostgreSQL: every line issued in order and verifiable, status indexes unique, the audit chain
intact; a bad line or an existing output issues nothing; a failing chunk keeps the chunks
before it (issued and written) and nothing of itself."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from did.errors import FurusatoError
from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from issuer import audit, batch, issuance, status
from issuer.cli import main as issuer_main
from issuer.db import IssuedCredential, StatusEntry
from issuer.resolving import LocalStatusLists, tenant_resolver
from tests.cli.helpers import assert_one_line_error
from tests.issuer.conftest import SECRET, World
from tests.wallet.helpers import run_cli
from vc.verify import VerifyOptions, verify_credential

LG = "015814"


def holders(n: int) -> list[str]:
    return [
        did_key_from_public_key(
            PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32)).public_key
        )
        for _ in range(n)
    ]


def write_input(path: Path, dids: list[str], *, blank_every: int = 0) -> Path:
    lines = []
    for i, did in enumerate(dids, start=1):
        lines.append(json.dumps({"holder": did} if i % 2 else {"holder": did, "tier": "basic"}))
        if blank_every and i % blank_every == 0:
            lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def counts(world: World) -> tuple[int, int]:
    with world.svc.db.read() as session:
        credentials = session.execute(
            select(func.count()).select_from(IssuedCredential).where(IssuedCredential.lg_code == LG)
        ).scalar_one()
        entries = session.execute(
            select(func.count()).select_from(StatusEntry).where(StatusEntry.lg_code == LG)
        ).scalar_one()
    return int(credentials), int(entries)


def test_a_batch_is_issued_in_order_and_verifies(world: World, tmp_path: Path) -> None:
    dids = holders(batch.CHUNK * 2 + 37)  # three chunks, the last one short
    source = write_input(tmp_path / "in.jsonl", dids, blank_every=100)
    out = tmp_path / "out.jsonl"
    seen: list[tuple[int, int]] = []
    report = batch.issue_batch(
        world.svc,
        LG,
        source,
        out,
        now=world.svc.clock,
        workers=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.issued == len(dids)
    total = len(dids)
    assert seen == [(batch.CHUNK, total), (2 * batch.CHUNK, total), (total, total)]
    assert not out.with_name("out.jsonl.partial").exists()
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["holder"] for r in rows] == dids
    assert [r["credential"]["credentialSubject"]["id"] for r in rows] == dids
    assert rows[0]["line"] == 1
    assert rows[-1]["line"] == total + total // 100  # blank lines keep their numbers
    assert len({r["id"] for r in rows}) == total
    # every status index is used once; the database has every credential
    indexes = Counter(
        (e["statusPurpose"], e["statusListCredential"], e["statusListIndex"])
        for r in rows
        for e in r["credential"]["credentialStatus"]
    )
    assert len(indexes) == 2 * total
    assert max(indexes.values()) == 1
    assert counts(world) == (total, 2 * total)
    with world.svc.db.read() as session:
        sources = set(session.execute(select(IssuedCredential.source)).scalars())
        assert sources == {"batch"}
        assert audit.verify_chain(session, LG).ok
        assert audit.verify_chain(session, LG).events >= total
    options = VerifyOptions(now=world.svc.clock(), status_lists=LocalStatusLists(world.svc))
    for row in (rows[0], rows[batch.CHUNK], rows[-1]):
        result = verify_credential(
            row["credential"], resolver=tenant_resolver(world.svc), options=options
        )
        assert result.verified, result.to_json()


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("not json", "not JSON"),
        ('{"holder": "did:web:example.jp"}', "did:key"),
        ('{"holder": "did:key:zNOPE"}', "line 3"),
        ('{"holder": "%s", "tier": "premium"}', "premium"),
        ('{"holder": "%s", "name": "x"}', "holder"),
        ("[1, 2]", "holder"),
    ],
)
def test_a_bad_line_issues_nothing(world: World, tmp_path: Path, line: str, needle: str) -> None:
    dids = holders(5)
    source = tmp_path / "in.jsonl"
    text = [json.dumps({"holder": d}) for d in dids]
    text.insert(2, line.replace("%s", dids[0]))
    source.write_text("\n".join(text), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    with pytest.raises(batch.BatchInputError) as refused:
        batch.issue_batch(world.svc, LG, source, out, now=world.svc.clock, workers=1)
    assert "line 3" in refused.value.message_en
    assert needle in refused.value.message_en
    assert "3 行目" in refused.value.message_ja
    assert counts(world) == (0, 0)
    assert not out.exists()
    assert not out.with_name("out.jsonl.partial").exists()


def test_an_existing_output_is_never_overwritten(world: World, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", holders(3))
    out = tmp_path / "out.jsonl"
    out.write_text("keep me", encoding="utf-8")
    with pytest.raises(FurusatoError) as refused:
        batch.issue_batch(world.svc, LG, source, out, now=world.svc.clock, workers=1)
    assert refused.value.code == "output_exists"
    assert out.read_text("utf-8") == "keep me"
    assert counts(world) == (0, 0)


def test_a_failing_chunk_keeps_the_chunks_before_it(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dids = holders(batch.CHUNK + 10)
    source = write_input(tmp_path / "in.jsonl", dids)
    out = tmp_path / "out.jsonl"
    real = issuance.record_issued_many
    calls = [0]

    def failing(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == 2:  # the second chunk
            raise FurusatoError("disk full", "ディスクがいっぱいです", code="test_failure")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(issuance, "record_issued_many", failing)
    with pytest.raises(FurusatoError, match="disk full"):
        batch.issue_batch(world.svc, LG, source, out, now=world.svc.clock, workers=1)
    assert counts(world) == (batch.CHUNK, 2 * batch.CHUNK)
    partial = out.with_name("out.jsonl.partial")
    written = [json.loads(line) for line in partial.read_text("utf-8").splitlines()]
    assert [r["holder"] for r in written] == dids[: batch.CHUNK]
    assert not out.exists()


def test_the_command(world: World, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", holders(4))
    out = tmp_path / "out.jsonl"
    settings_ = world.svc.settings
    base = ["issue-batch", "--data-dir", str(settings_.data_dir), "--lg-code", LG]
    if settings_.database_url:
        base += ["--database-url", settings_.database_url]
    env = {"FURUSATO_ISSUER_SECRET": SECRET}
    done = run_cli(issuer_main, [*base, str(source), "--out", str(out), "--workers", "1"], env=env)
    assert done.exit_code == 0, done.stderr
    assert "4 credentials issued" in done.stdout
    assert len(out.read_text("utf-8").splitlines()) == 4
    again = run_cli(issuer_main, [*base, str(source), "--out", str(out)], env=env)
    assert again.exit_code == 1
    assert_one_line_error(again.stderr, contains=["output_exists"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"holder": 1}\n', encoding="utf-8")
    refused = run_cli(issuer_main, [*base, str(bad), "--out", str(tmp_path / "x.jsonl")], env=env)
    assert refused.exit_code == 2
    assert_one_line_error(refused.stderr, contains=["line 1", "1 行目"])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_the_line_parser_takes_any_bytes(raw: bytes) -> None:
    refused: batch.BatchInputError | None = None
    parsed = None
    try:
        parsed = batch._registrant(7, raw)
    except batch.BatchInputError as exc:
        refused = exc
    if refused is not None:
        assert "line 7" in refused.message_en
    else:
        assert parsed is None or parsed.holder.startswith("did:key:")


def test_allocate_many_takes_distinct_indexes_and_rolls_over(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk larger than a (shrunk) list: every credential gets an index, none twice, the
    lists roll over; indexes already taken by single allocations are avoided."""
    monkeypatch.setattr(status, "LIST_LENGTH", 64)
    now = world.svc.clock()
    with world.svc.db.transaction() as session:
        single = status.allocate(
            session,
            world.tenant,
            "revocation",
            "urn:uuid:single",
            now=now,
            randbelow=secrets.randbelow,
            fill=0.9,
        )
        ids = [f"urn:uuid:{i}" for i in range(150)]
        taken = status.allocate_many(
            session,
            world.tenant,
            "revocation",
            ids,
            now=now,
            randbelow=secrets.randbelow,
            fill=0.5,
        )
    assert set(taken) == set(ids)
    places = [(a.list_number, a.index) for a in taken.values()]
    places.append((single.list_number, single.index))
    assert len(set(places)) == len(places)
    assert all(0 <= index < 64 for _, index in places)
    assert len({number for number, _ in places}) >= 3  # 151 entries in lists of 64
    with world.svc.db.read() as session:
        stored = session.execute(
            select(StatusEntry.list_number, StatusEntry.list_index, StatusEntry.credential_id)
        ).all()
    assert {(n, i): c for n, i, c in stored} == {
        **{(a.list_number, a.index): c for c, a in taken.items()},
        (single.list_number, single.index): "urn:uuid:single",
    }
