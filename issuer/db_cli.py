"""``furusato-issuer db …``: back up the database, or copy it to another (SQLite → PostgreSQL).

Commands only parse, call :mod:`issuer.dbtools` and render (docs/guide-staff.md).  Errors:
one line, Japanese then English; exit 2 for bad usage — a URL that is not one or cannot be
connected to, ``backup`` on PostgreSQL (the message gives the ``pg_dump`` command) — and exit
1 when the operation was refused or failed (an existing output file, a target that holds
data, a copy that does not verify: then nothing was written).

The issuer's main command attaches this group with ``main.add_command(…db_group)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from did.errors import FurusatoError
from issuer import dbtools
from issuer.bootstrap import stored_secret
from issuer.settings import Settings
from shellkit.cli import FAILED, USAGE, BilingualGroup, fail, fail_with, print_json

__all__ = ["db_group"]

T = TypeVar("T")


def data_dir_option(function: Any) -> Any:
    """``--data-dir`` and ``--database-url``, as every service command takes them (issuer.cli
    uses this one too)."""
    function = click.option(
        "--database-url",
        envvar="DATABASE_URL",
        help="PostgreSQL の URL (既定: データディレクトリの SQLite) / "
        "PostgreSQL URL (default: SQLite in the data directory)",
    )(function)
    return click.option(
        "--data-dir",
        envvar="FURUSATO_ISSUER_DATA",
        type=click.Path(file_okay=False, path_type=Path),
        help="データディレクトリ / data directory (FURUSATO_ISSUER_DATA)",
    )(function)


def _run(action: Callable[[], T]) -> T:
    """A bad URL is a usage error (exit 2); every other refusal a failure (exit 1)."""
    try:
        return action()
    except dbtools.DatabaseUrlError as exc:
        fail_with(exc, USAGE)
    except FurusatoError as exc:
        fail_with(exc, FAILED)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = f"{exc.filename}: " if exc.filename else ""
        fail(
            f"{where}ファイルを読み書きできません ({reason})",
            f"{where}cannot read or write the file ({reason})",
            FAILED,
        )


def _secret_reminder(settings: Settings) -> tuple[str, str]:
    """Where this deployment's sealing secret is, never its value."""
    if settings.secret:
        return (
            "環境変数 FURUSATO_ISSUER_SECRET (移行先・復元先でも同じ値を設定してください)",
            "the environment variable FURUSATO_ISSUER_SECRET (set the same value there)",
        )
    stored = settings.data_dir / "secret"
    if stored_secret(settings.data_dir):
        return (
            f"ファイル {stored} (同じ内容を FURUSATO_ISSUER_SECRET に設定するか、"
            "ファイルを移してください)",
            f"the file {stored} (set FURUSATO_ISSUER_SECRET to its content, or move the file)",
        )
    return (
        "init のときに入力した秘密 (同じものを FURUSATO_ISSUER_SECRET に設定してください)",
        "the secret typed at init (set FURUSATO_ISSUER_SECRET to it)",
    )


@click.group(
    "db",
    cls=BilingualGroup,
    help="データベースのバックアップと移行 / Back up the database, or move it",
)
def db_group() -> None:
    pass


@db_group.command(
    "backup",
    help="稼働中のままデータベースをバックアップします (SQLite) / "
    "Back up the database while the service runs (SQLite)",
)
@data_dir_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="バックアップファイル (上書きしません) / the backup file (never overwritten)",
)
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
def backup_command(
    data_dir: Path | None, database_url: str | None, out: Path, as_json: bool
) -> None:
    settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    url = settings.effective_database_url
    kind = _run(lambda: dbtools.database_kind(url))
    if kind == "postgresql":
        click.echo(dbtools.pg_dump_command(url, out))
        fail(
            "PostgreSQL のバックアップには pg_dump を使います (上の行がこのデータベースのコマンド、"
            "パスワードは PGPASSWORD か ~/.pgpass で渡します)。復元は pg_restore です",
            "back up PostgreSQL with pg_dump (the line above is the command for this database; "
            "give a password with PGPASSWORD or ~/.pgpass); restore with pg_restore",
            USAGE,
        )
    database = _run(lambda: dbtools.sqlite_path(url))
    report = _run(lambda: dbtools.backup_sqlite(database, out))
    secret_ja, secret_en = _secret_reminder(settings)
    if as_json:
        print_json(
            {
                "path": str(report.path),
                "size": report.size,
                "revision": report.revision,
                "tables": report.tables,
                "auditChains": [
                    {"lgCode": c.lg_code, "events": c.events, "ok": c.ok} for c in report.chains
                ],
            }
        )
        return
    rows = sum(report.tables.values())
    click.echo(
        f"バックアップを作成しました: {report.path} ({report.size:,} バイト、{rows:,} 行、"
        f"スキーマ {report.revision}) / backup written: {report.path} ({report.size:,} bytes, "
        f"{rows:,} rows, schema {report.revision})"
    )
    for chain in report.chains:
        click.echo(
            f"  ✓ {chain.lg_code}: 監査ログ {chain.events} 件、改ざんなし / "
            f"audit log {chain.events} events, intact"
        )
    click.echo(
        f"注意: 鍵を守る秘密はバックアップに含まれません。秘密は {secret_ja}。"
        "バックアップとは別に安全に保管してください",
        err=True,
    )
    click.echo(
        f"Note: the sealing secret is not in the backup; it is {secret_en}. "
        "Keep it safely, apart from the backup",
        err=True,
    )


@db_group.command(
    "copy",
    help="データベース全体を空のデータベース (PostgreSQL など) にコピーして検証します / "
    "Copy the whole database into an empty one (e.g. PostgreSQL) and verify it",
)
@data_dir_option
@click.option(
    "--to",
    "target_url",
    required=True,
    metavar="URL",
    help="コピー先 (空のデータベース) 例 postgresql://furusato@db.example.jp/furusato / "
    "the empty target database",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=dbtools.BATCH_ROWS,
    show_default=True,
    help="一度に書き込む行数 / rows written per batch",
)
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
def copy_command(
    data_dir: Path | None,
    database_url: str | None,
    target_url: str,
    batch_size: int,
    as_json: bool,
) -> None:
    settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    source_url = settings.effective_database_url
    if _run(lambda: dbtools.database_kind(source_url)) == "sqlite":
        path = _run(lambda: dbtools.sqlite_path(source_url))
        if not path.is_file():
            fail(
                f"コピー元のデータベース {path} がありません (--data-dir を確認してください)",
                f"there is no source database at {path} (check --data-dir)",
                FAILED,
            )
    _run(lambda: dbtools.database_kind(target_url))
    source = _run(lambda: dbtools.open_database(source_url))
    try:
        target = _run(lambda: dbtools.open_database(target_url))
        try:
            started = [False]

            def progress(table: str, rows: int) -> None:
                if as_json:
                    return
                if not started[0]:  # only once the copy runs: a refusal stays one line
                    started[0] = True
                    click.echo(
                        f"コピーしています / copying: {dbtools.display_url(source_url)} → "
                        f"{dbtools.display_url(target_url)}",
                        err=True,
                    )
                click.echo(f"  {table}: {rows:,}", err=True)

            report = _run(
                lambda: dbtools.copy_database(
                    source, target, batch_rows=batch_size, progress=progress
                )
            )
        finally:
            target.dispose()
    finally:
        source.dispose()
    if as_json:
        print_json(report.to_json())
        return
    secret_ja, secret_en = _secret_reminder(settings)
    shown = dbtools.display_url(target_url)
    click.echo(
        f"コピーして確認しました: {len(report.tables)} 表・{report.rows:,} 行の内容が一致、"
        f"監査ログの連鎖 {len(report.chains)} 自治体 ✓ / copied and verified: "
        f"{len(report.tables)} tables, {report.rows:,} rows identical, audit chains intact "
        f"({len(report.chains)} {'municipality' if len(report.chains) == 1 else 'municipalities'})"
    )
    if report.sequences:
        click.echo(
            f"  シーケンスを調整しました / sequences moved past the copied rows: "
            f"{', '.join(report.sequences)}"
        )
    click.echo("次に / Next:")
    click.echo(
        f"  1. 鍵を守る秘密も移してください。データベースには入っていません: {secret_ja} / "
        f"move the sealing secret too, it is not in the database: {secret_en}"
    )
    click.echo(
        f"  2. DATABASE_URL={shown} を設定してサービスを起動してください / "
        f"set DATABASE_URL={shown} and start the service"
    )
