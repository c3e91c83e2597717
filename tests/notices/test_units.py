"""The domain rules of notices as plain functions (issuer.notices): drafts, links, cursors,
ETags, states — and the migration that creates the tables, both ways, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from did.errors import FurusatoError
from issuer import notices
from issuer.db import Database, Notice, migrate
from issuer.notices import Cursor, NoticeDraft, check_draft, check_link, etag_matches

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def draft(**changes: object) -> NoticeDraft:
    base = NoticeDraft(topic="防災", title_ja=" 避難所 ", body_ja="本文\r\n二行目 ")
    return NoticeDraft(**{**base.__dict__, **changes})


def test_a_draft_is_normalized() -> None:
    checked = check_draft(draft(title_en="  ", link=" https://example.jp/x "), now=NOW)
    assert checked.title_ja == "避難所"
    assert checked.body_ja == "本文\n二行目"
    assert checked.title_en is None  # empty English: none
    assert checked.link == "https://example.jp/x"
    assert checked.published_at == NOW
    assert check_draft(draft(title_ja="ｶﾞ"), now=NOW).title_ja == "ｶﾞ"  # NFC keeps half-width
    assert check_draft(draft(title_ja="カ\u3099"), now=NOW).title_ja == "ガ"  # composed


@pytest.mark.parametrize(
    "link",
    [
        "https://www.town.atsuma.lg.jp/",
        "https://example.jp:8443/a?b=c#d",
        "https://xn--eckwd4c7c.xn--zckzah/",
        None,
        "",
    ],
)
def test_links_accepted(link: str | None) -> None:
    assert check_link(link) == (link or None)


@pytest.mark.parametrize(
    "link",
    [
        "http://example.jp/",
        "HTTPS://example",
        "https://localhost/",
        "https://printer.local/",
        "https://192.168.0.1/",
        "https://[::1]/",
        "https://a@example.jp/",
        "https://example.jp:0/",
        "https://example.jp:x/",
        "https://exa mple.jp/",
        "https://例え.jp/",
        "data:text/html,hi",
        "//example.jp/",
        7,
    ],
)
def test_links_refused(link: object) -> None:
    with pytest.raises(FurusatoError) as caught:
        check_link(link)
    assert caught.value.code == "notice_invalid"
    assert caught.value.path == "link"


def test_times_of_a_call() -> None:
    call = draft(topic="募集", places=3, deadline=NOW + timedelta(days=1))
    assert check_draft(call, now=NOW).places == 3
    for changes in (
        {"deadline": NOW},
        {"deadline": NOW + timedelta(days=400)},
        {"published_at": NOW + timedelta(days=2)},  # deadline before publication
        {"expires_at": NOW + timedelta(hours=1)},  # expires before the deadline
        {"places": 0},
        {"places": None},
    ):
        with pytest.raises(FurusatoError):
            check_draft(NoticeDraft(**{**call.__dict__, **changes}), now=NOW)
    row = Notice(deadline=NOW - timedelta(days=1), expires_at=None)
    past = NoticeDraft(**{**call.__dict__, "deadline": NOW - timedelta(days=1)})
    with pytest.raises(FurusatoError):
        check_draft(past, now=NOW)
    kept = NoticeDraft(**{**past.__dict__, "published_at": NOW - timedelta(days=5)})
    assert check_draft(kept, now=NOW, existing=row).deadline == past.deadline  # an edit keeps it


def test_cursors_round_trip_and_refuse_garbage() -> None:
    cursor = Cursor(datetime(2027, 3, 1, 9, 0, 0, 123456, tzinfo=UTC), "0123456789abcdef")
    assert Cursor.parse(cursor.text()) == cursor
    assert Cursor.parse(None) is None
    for text in ("", "1.0123456789ABCDEF", "1.0123", "-1.0123456789abcdef", "1.0123456789abcdef "):
        with pytest.raises(FurusatoError):
            Cursor.parse(text)


def test_etag_comparison() -> None:
    tag = 'W/"abc"'
    assert etag_matches('W/"abc"', tag)
    assert etag_matches('"abc"', tag)
    assert etag_matches('"x", W/"abc"', tag)
    assert etag_matches("*", tag)
    assert not etag_matches(None, tag)
    assert not etag_matches('"abcd"', tag)
    assert not etag_matches("", tag)


def test_call_state() -> None:
    row = Notice(
        places=2,
        deadline=NOW + timedelta(days=1),
        closed_at=None,
        withdrawn_at=None,
        published_at=NOW - timedelta(days=1),
        expires_at=None,
    )
    assert notices.call_state(row, 0, NOW) == "open"
    assert notices.call_state(row, 2, NOW) == "full"
    assert notices.call_state(row, 0, NOW + timedelta(days=2)) == "closed"
    row.closed_at = NOW
    assert notices.call_state(row, 0, NOW) == "closed"


def _alembic(database: Database, action: str, revision: str) -> None:
    from importlib import resources

    config = Config()
    config.set_main_option("script_location", str(resources.files("issuer").joinpath("migrations")))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)
        connection.commit()


def test_migration_0004_both_ways(database_url: str) -> None:
    database = Database(database_url)
    try:
        migrate(database)
        tables = set(inspect(database.engine).get_table_names())
        assert {"notices", "notice_responses"} <= tables
        columns = {c["name"] for c in inspect(database.engine).get_columns("notice_responses")}
        assert {"id", "tenant_id", "notice_id", "created_at", "withdrawn_at"} <= columns
        _alembic(database, "downgrade", "0003")
        assert not {"notices", "notice_responses"} & set(inspect(database.engine).get_table_names())
        _alembic(database, "upgrade", "head")
        assert {"notices", "notice_responses"} <= set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()
