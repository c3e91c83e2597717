"""Database tools for the people who run an issuer: a consistent backup while the service
runs, and a verified copy of the whole database to another one (docs/guide-staff.md).

**Backup.**  On SQLite (the embedded default) :func:`backup_sqlite` uses SQLite's online
backup API: one read transaction on the live database (WAL mode lets the service keep
writing meanwhile), so the copy is the database as it was at one moment, never half of a
transaction.  The copy is written to ``FILE.partial``, checked (``PRAGMA quick_check``, the
schema revision, the audit chain of every municipality), switched to the rollback journal so
that it is one self-contained file, flushed, and only then linked to ``FILE`` — an existing
``FILE`` is never overwritten.  A backup is itself a working database: restore it by putting
it in the data directory (service stopped), or copy it into PostgreSQL with :func:`copy_database`.

On PostgreSQL we do not make our own dump: ``pg_dump`` takes a consistent snapshot without
stopping anything, its files restore with ``pg_restore`` onto newer server versions, and the
people who run a PostgreSQL server already back it up with it (or with WAL archiving).  A
second, home-made format would only be a second thing to trust.  :func:`pg_dump_command`
gives the exact command for the configured URL.

**Copy** (:func:`copy_database`, e.g. from the default SQLite file to a new PostgreSQL
database):

1. refuse a target that holds any row in any table (nothing is written then);
2. run the Alembic migrations on the target (the schema is exactly the one the service makes);
3. in **one transaction** on the target (its tables locked on PostgreSQL): copy every table
   in foreign-key order, in batches, from one read snapshot of the source (SQLAlchemy Core;
   JSON columns as their exact text, so SQL NULL stays NULL and the text is unchanged);
4. move PostgreSQL sequences of autoincrement columns past the copied values (our schema has
   none today: every key is natural; any that a later migration adds is handled);
5. verify, still inside the transaction: per table the row count and an order-independent
   SHA-256 digest of the rows read back from the target equal the source's, and the audit
   hash chain of every municipality verifies on the target.  Any difference rolls the whole
   copy back.

The sealing secret (``FURUSATO_ISSUER_SECRET`` or the data directory's ``secret`` file) is
not in the database: neither tool copies it, and the service on the restored or copied
database needs the same secret.

Errors are :class:`~issuer.errors.ServiceError` with stable codes; :class:`DatabaseUrlError`
(a URL that is not one, names an unsupported database, or cannot be connected to) is a usage
error for the command line (exit 2), every other refusal a failure (exit 1).  Messages never
contain row values (no personal data is stored, and none should reach a terminal or log).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import (
    JSON,
    Table,
    Text,
    bindparam,
    cast,
    create_engine,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from issuer import audit
from issuer.db import Base, Database, migrate, normalize_url
from issuer.errors import ServiceError

__all__ = [
    "BATCH_ROWS",
    "BackupReport",
    "CopyReport",
    "DatabaseUrlError",
    "TableCopy",
    "backup_sqlite",
    "copy_database",
    "database_kind",
    "display_url",
    "fix_sequences",
    "open_database",
    "pg_dump_command",
    "sqlite_path",
]

BATCH_ROWS = 1000
CONNECT_TIMEOUT_SECONDS = 10
ALEMBIC_TABLE = "alembic_version"
_DIGEST_MODULUS = 2**256


class DatabaseUrlError(ServiceError):
    """The URL is malformed, names a database we do not support, or cannot be reached."""

    code = "bad_database_url"


# --- URLs ----------------------------------------------------------------------------------


def database_kind(url: str) -> str:
    """``"sqlite"`` or ``"postgresql"`` for a URL we support; :class:`DatabaseUrlError`
    for anything else."""
    try:
        parsed = make_url(normalize_url(url.strip()))
    except ArgumentError:
        raise DatabaseUrlError(
            f"not a database URL: {_cut(url)!r} (e.g. postgresql://user@host:5432/name)",
            f"データベースの URL ではありません: {_cut(url)!r} "
            "(例 postgresql://user@host:5432/name)",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseUrlError(
                "an SQLite URL needs a file: sqlite:///path/to/issuer.db",
                "SQLite の URL にはファイルが必要です: sqlite:///path/to/issuer.db",
            )
        return "sqlite"
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgresql+psycopg"):
        if not parsed.database:
            raise DatabaseUrlError(
                f"the URL names no database: {display_url(url)}",
                f"URL にデータベース名がありません: {display_url(url)}",
            )
        return "postgresql"
    raise DatabaseUrlError(
        f"unsupported database {parsed.drivername!r}: use postgresql://… or sqlite:///…",
        f"対応していないデータベースです ({parsed.drivername!r})。"
        "postgresql://… か sqlite:///… を指定してください",
    )


def display_url(url: str) -> str:
    """The URL as it may be shown: the password (if any) replaced by ``***``."""
    try:
        return make_url(url.strip()).render_as_string(hide_password=True)
    except ArgumentError:
        return _cut(url)


def sqlite_path(url: str) -> Path:
    """The file of an SQLite URL (relative paths against the working directory)."""
    database = make_url(normalize_url(url)).database
    if not database:
        raise DatabaseUrlError("an SQLite URL needs a file", "SQLite の URL にはファイルが必要です")
    return Path(database).resolve()


def _same_database(first: str, second: str) -> bool:
    a, b = make_url(normalize_url(first)), make_url(normalize_url(second))
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return sqlite_path(first) == sqlite_path(second)
    return (a.host or "", a.port or 5432, a.database) == (b.host or "", b.port or 5432, b.database)


def _cut(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def _first_line(exc: BaseException) -> str:
    """The first line of a driver error (PostgreSQL puts row values in DETAIL lines)."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return _cut(lines[0].strip(), 200) if lines else type(original).__name__


def open_database(url: str) -> Database:
    """A :class:`Database` for ``url`` once a connection to it has succeeded (10 s at most).
    A URL that cannot be used raises :class:`DatabaseUrlError` with the reason, the
    password never shown."""
    kind = database_kind(url)
    if kind == "sqlite":
        path = sqlite_path(url)
        if not path.parent.is_dir():
            raise DatabaseUrlError(
                f"no such directory: {path.parent}",
                f"{path.parent} というディレクトリはありません",
            )
    else:
        probe = create_engine(
            normalize_url(url),
            poolclass=NullPool,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        )
        try:
            with probe.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (DBAPIError, NoSuchModuleError) as exc:
            reason = _first_line(exc)
            password = make_url(normalize_url(url)).password
            if password:
                reason = reason.replace(str(password), "***")
            raise DatabaseUrlError(
                f"cannot connect to {display_url(url)}: {reason}",
                f"{display_url(url)} に接続できません: {reason}",
                code="database_unreachable",
            ) from None
        finally:
            probe.dispose()
    return Database(url, pool_size=2)


def pg_dump_command(url: str, out: Path) -> str:
    """The ``pg_dump`` command that backs up the PostgreSQL database of ``url`` into ``out``
    (custom format, for ``pg_restore``); a password in the URL is left out — pg_dump reads
    it from ``PGPASSWORD`` or ``~/.pgpass``."""
    given = make_url(normalize_url(url))
    parsed = URL.create(
        "postgresql",
        username=given.username,
        host=given.host,
        port=given.port,
        database=given.database,
        query=given.query,
    )
    return (
        f"pg_dump --format=custom --file={shlex.quote(str(out))} "
        f"--dbname={shlex.quote(parsed.render_as_string(hide_password=False))}"
    )


# --- digests of rows -------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, datetime | date):
        return {"$time": value.isoformat()}
    return value


class _TableDigest:
    """An order-independent digest of a table's rows: the sum of their SHA-256 values
    (rows are distinct: every table has a primary key), so SQLite and PostgreSQL may return
    them in any order."""

    def __init__(self) -> None:
        self.rows = 0
        self._sum = 0

    def add(self, row: Sequence[Any]) -> None:
        line = json.dumps(
            [_plain(v) for v in row], ensure_ascii=False, sort_keys=True, separators=(",", ":")
        ).encode("utf-8")
        self._sum = (self._sum + int.from_bytes(hashlib.sha256(line).digest(), "big")) % (
            _DIGEST_MODULUS
        )
        self.rows += 1

    @property
    def hexdigest(self) -> str:
        return f"{self._sum:064x}"


# --- backup (SQLite) -------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size: int
    revision: str | None
    tables: dict[str, int]
    chains: list[audit.ChainReport]


def _refuse_existing(out: Path) -> None:
    if out.exists() or out.is_symlink():
        raise ServiceError(
            f"{out} exists: choose a new file (nothing is overwritten)",
            f"{out} は既にあります。新しいファイル名を指定してください (上書きしません)",
            code="output_exists",
        )


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def backup_sqlite(database: Path, out: Path) -> BackupReport:
    """Back up the SQLite database ``database`` (possibly in use) into the new file ``out``
    (module docstring)."""
    _refuse_existing(out)
    if not database.is_file():
        raise ServiceError(
            f"there is no database at {database}",
            f"{database} にデータベースがありません",
            code="no_database",
        )
    if not out.parent.is_dir():
        raise DatabaseUrlError(
            f"no such directory: {out.parent}",
            f"{out.parent} というディレクトリはありません",
            code="no_directory",
        )
    partial = out.with_name(out.name + ".partial")
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise ServiceError(
            f"{partial} exists: another backup is running, or one was interrupted "
            "(then remove that file)",
            f"{partial} があります。別のバックアップが実行中か、中断されたバックアップの残りです "
            "(後者なら削除してください)",
            code="partial_exists",
        ) from None
    done = False
    try:
        _online_backup(database, partial)
        revision, tables, chains = _check_backup(partial)
        _fsync(partial)
        try:
            os.link(partial, out)  # fails if out appeared meanwhile: never overwritten
        except FileExistsError:
            _refuse_existing(out)
            raise
        done = True
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    if done:
        _fsync(out.parent)
    return BackupReport(out, out.stat().st_size, revision, tables, chains)


def _online_backup(database: Path, partial: Path) -> None:
    source = sqlite3.connect(database, timeout=60)
    try:
        target = sqlite3.connect(partial)
        try:
            source.execute("PRAGMA busy_timeout=60000")
            # pages=-1: the whole database in one step, i.e. in one read transaction of the
            # source — a consistent snapshot, however busy the service is
            source.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            (result,) = target.execute("PRAGMA quick_check").fetchone()
            if result != "ok":
                raise ServiceError(
                    f"the backup does not pass SQLite's check ({_cut(str(result))})",
                    f"バックアップが SQLite の検査に合格しません ({_cut(str(result))})",
                    code="backup_damaged",
                )
        finally:
            target.close()
    except sqlite3.DatabaseError as exc:
        raise ServiceError(
            f"cannot back up {database}: {type(exc).__name__}: {_cut(str(exc))}",
            f"{database} をバックアップできません: {type(exc).__name__}: {_cut(str(exc))}",
            code="backup_failed",
        ) from None
    finally:
        source.close()


def _check_backup(partial: Path) -> tuple[str | None, dict[str, int], list[audit.ChainReport]]:
    """Read the new backup as the service would: its schema revision, rows per table, and the
    audit chain of every municipality (a plain engine: no WAL switch on the backup)."""
    engine = create_engine(f"sqlite:///{partial}", poolclass=NullPool)
    try:
        names = set(inspect(engine).get_table_names())
        if ALEMBIC_TABLE not in names:
            raise ServiceError(
                "the database is not an issuer database (no schema revision)",
                "発行者サービスのデータベースではありません (スキーマの版がありません)",
                code="not_an_issuer_database",
            )
        with engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            tables = {
                table.name: _count(connection, table)
                for table in Base.metadata.sorted_tables
                if table.name in names
            }
        with Session(engine) as session:
            chains = [audit.verify_chain(session, code) for code in _tenant_codes(session)]
    finally:
        engine.dispose()
    broken = [c for c in chains if not c.ok]
    if broken:
        raise ServiceError(
            f"the audit chain of {broken[0].lg_code} does not verify in the backup "
            "(run furusato-issuer audit verify)",
            f"バックアップで {broken[0].lg_code} の監査ログの連鎖を検証できません "
            "(furusato-issuer audit verify で確認してください)",
            code="audit_chain_broken",
        )
    return (str(revision) if revision is not None else None), tables, chains


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _tenant_codes(session: Session) -> list[str]:
    tenants = Base.metadata.tables["tenants"]
    return [str(code) for code in session.execute(select(tenants.c.lg_code)).scalars()]


# --- copy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int
    digest: str


@dataclass
class CopyReport:
    source: str
    target: str
    target_kind: str
    revision: str | None = None
    tables: list[TableCopy] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)
    chains: list[audit.ChainReport] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "targetKind": self.target_kind,
            "revision": self.revision,
            "rows": self.rows,
            "tables": [
                {"name": t.name, "rows": t.rows, "sha256Sum": t.digest} for t in self.tables
            ],
            "sequences": self.sequences,
            "auditChains": [
                {"lgCode": c.lg_code, "events": c.events, "ok": c.ok} for c in self.chains
            ],
            "verified": True,
        }


def _model_tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)  # foreign-key order: parents first


def _json_columns(table: Table) -> set[str]:
    return {c.name for c in table.columns if isinstance(c.type, JSON)}


def _read_statement(table: Table) -> Any:
    """SELECT every column; JSON columns as their stored text (exact, NULL kept)."""
    json_columns = _json_columns(table)
    return select(
        *(cast(c, Text).label(c.name) if c.name in json_columns else c for c in table.columns)
    )


def _insert_statement(table: Table, target_kind: str) -> Any:
    """INSERT of one batch; JSON columns take text (cast to JSON on PostgreSQL, where the
    ``json`` type keeps the text exactly; SQLite stores the text as it is)."""
    json_columns = _json_columns(table)
    if not json_columns:
        return insert(table)
    values: dict[str, Any] = {}
    for name in json_columns:
        parameter = bindparam(name, type_=Text)
        values[name] = cast(parameter, JSON) if target_kind == "postgresql" else parameter
    return insert(table).values(values)


def _stream(connection: Connection, table: Table, batch_rows: int) -> Iterator[Sequence[Any]]:
    result = connection.execution_options(stream_results=True, yield_per=batch_rows).execute(
        _read_statement(table)
    )
    yield from result.partitions(batch_rows)


def _nonempty_tables(connection: Connection) -> list[str]:
    """Every table of the database (ours or not) that holds at least one row."""
    preparer = connection.dialect.identifier_preparer
    full = []
    for name in sorted(inspect(connection).get_table_names()):
        if name == ALEMBIC_TABLE:
            continue
        query = f"SELECT 1 FROM {preparer.quote(name)} LIMIT 1"  # noqa: S608 - a quoted name
        if connection.execute(text(query)).first() is not None:
            full.append(name)
    return full


def _refuse_if_not_empty(connection: Connection) -> None:
    full = _nonempty_tables(connection)
    if full:
        shown = ", ".join(full[:5]) + (" …" if len(full) > 5 else "")
        raise ServiceError(
            f"the target database already holds data ({shown}); nothing was written. "
            "Copy only into a new, empty database",
            f"コピー先のデータベースには既にデータがあります ({shown})。何も書き込んでいません。"
            "新しい空のデータベースを指定してください",
            code="target_not_empty",
        )


def _check_source_tables(source: Database) -> None:
    names = set(inspect(source.engine).get_table_names())
    known = {t.name for t in _model_tables()}
    unknown = sorted(names - known - {ALEMBIC_TABLE})
    if unknown:
        shown = ", ".join(unknown[:5])
        raise ServiceError(
            f"the source database has tables this version does not know ({shown}): "
            "use the furusato-issuer version that made them",
            f"コピー元に、このバージョンが知らない表があります ({shown})。"
            "それを作ったバージョンの furusato-issuer を使ってください",
            code="unknown_tables",
        )


def _revision(connection: Connection) -> str | None:
    value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def _lock_tables(connection: Connection, tables: Iterable[Table]) -> None:
    """PostgreSQL: nobody else reads or writes the target's tables until the copy commits
    (SQLite's BEGIN IMMEDIATE already holds the database's write lock)."""
    if connection.dialect.name != "postgresql":
        return
    preparer = connection.dialect.identifier_preparer
    names = ", ".join(preparer.quote(t.name) for t in tables)
    connection.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))


def fix_sequences(connection: Connection) -> list[str]:
    """PostgreSQL: move every sequence owned by a column of a table of the current schema
    (``serial``, ``identity``) past the largest value in that column, so that the next
    default value cannot collide with a copied row.  Returns ``table.column`` of each."""
    if connection.dialect.name != "postgresql":
        return []
    owned = connection.execute(
        text(
            "SELECT c.relname, a.attname, "
            "pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() "
            "AND a.attnum > 0 AND NOT a.attisdropped "
            "AND pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) "
            "IS NOT NULL ORDER BY 1, 2"
        )
    ).all()
    preparer = connection.dialect.identifier_preparer
    fixed = []
    for table_name, column_name, sequence in owned:
        table, column = preparer.quote(table_name), preparer.quote(column_name)
        connection.execute(
            text(
                f"SELECT setval(:sequence, COALESCE(MAX({column}), 0) + 1, false) "  # noqa: S608
                f"FROM {table}"
            ),
            {"sequence": sequence},
        )
        fixed.append(f"{table_name}.{column_name}")
    return fixed


def _source_connection(source: Database) -> Connection:
    """A connection whose transaction is one read snapshot of the source."""
    connection = source.engine.connect()
    if source.is_sqlite:
        return connection.execution_options(furusato_read_only=True)  # deferred BEGIN
    return connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)


def copy_database(
    source: Database,
    target: Database,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy every table of ``source`` into the empty ``target`` and verify it (module
    docstring).  ``progress(table, rows)`` is called after each table."""
    if _same_database(source.url, target.url):
        raise DatabaseUrlError(
            "the source and the target are the same database",
            "コピー元とコピー先が同じデータベースです",
            code="same_database",
        )
    target_kind = "sqlite" if target.is_sqlite else "postgresql"
    report = CopyReport(display_url(source.url), display_url(target.url), target_kind)
    tables = _model_tables()
    try:
        migrate(source)  # as every command does: the source at the schema of this version
        _check_source_tables(source)
        with target.engine.connect() as probe:
            _refuse_if_not_empty(probe)
        migrate(target)
        with _source_connection(source) as reader, reader.begin():
            report.revision = _revision(reader)
            with target.engine.connect() as writer, writer.begin():
                _lock_tables(writer, tables)
                _refuse_if_not_empty(writer)  # again, under the lock: written to meanwhile?
                if _revision(writer) != report.revision:
                    raise ServiceError(
                        "the schema revisions of the source and the target differ",
                        "コピー元とコピー先のスキーマの版が異なります",
                        code="revision_mismatch",
                    )
                copied = [
                    _copy_table(reader, writer, table, target_kind, batch_rows, progress)
                    for table in tables
                ]
                report.sequences = fix_sequences(writer)
                _verify_target(writer, tables, copied, batch_rows)
                with Session(bind=writer) as session:
                    report.chains = [
                        audit.verify_chain(session, code) for code in _tenant_codes(session)
                    ]
                broken = [c for c in report.chains if not c.ok]
                if broken:
                    raise ServiceError(
                        f"the audit chain of {broken[0].lg_code} does not verify on the target; "
                        "nothing was copied (check the source with furusato-issuer audit verify)",
                        f"コピー先で {broken[0].lg_code} の監査ログの連鎖を検証できません。"
                        "何もコピーしていません (コピー元を furusato-issuer audit verify で"
                        "確認してください)",
                        code="audit_chain_broken",
                    )
                report.tables = copied
    except (SQLAlchemyError, CommandError) as exc:  # CommandError: a schema we do not know
        raise ServiceError(
            f"the copy failed and was rolled back: {type(exc).__name__}: {_first_line(exc)}",
            f"コピーに失敗したため取り消しました: {type(exc).__name__}: {_first_line(exc)}",
            code="copy_failed",
        ) from None
    return report


def _copy_table(
    reader: Connection,
    writer: Connection,
    table: Table,
    target_kind: str,
    batch_rows: int,
    progress: Callable[[str, int], None] | None,
) -> TableCopy:
    digest = _TableDigest()
    statement = _insert_statement(table, target_kind)
    names = [c.name for c in table.columns]
    for batch in _stream(reader, table, batch_rows):
        rows = []
        for row in batch:
            digest.add(row)
            rows.append(dict(zip(names, row, strict=True)))
        writer.execute(statement, rows)
    if progress is not None:
        progress(table.name, digest.rows)
    return TableCopy(table.name, digest.rows, digest.hexdigest)


def _verify_target(
    writer: Connection, tables: Sequence[Table], copied: Sequence[TableCopy], batch_rows: int
) -> None:
    """Read every copied table back from the target: rows and digest as at the source."""
    for table, expected in zip(tables, copied, strict=True):
        digest = _TableDigest()
        for batch in _stream(writer, table, batch_rows):
            for row in batch:
                digest.add(row)
        count = _count(writer, table)
        if count != expected.rows or digest.rows != expected.rows:
            raise ServiceError(
                f"table {table.name}: {count} rows on the target, {expected.rows} at the source; "
                "nothing was copied",
                f"表 {table.name}: コピー先 {count} 行、コピー元 {expected.rows} 行。"
                "何もコピーしていません",
                code="copy_mismatch",
            )
        if digest.hexdigest != expected.digest:
            raise ServiceError(
                f"table {table.name}: the rows read back differ from the source; nothing was copied",
                f"表 {table.name}: コピー先の内容がコピー元と一致しません。何もコピーしていません",
                code="copy_mismatch",
            )
