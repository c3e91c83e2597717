"""Click glue: one bilingual error line and a fixed exit code for everything that goes wrong.

* a core error (``FurusatoError``) → ``エラー: <ja> [code] / Error: <en> [code]``;
* click's own usage errors (missing option, bad choice…) → the same one-line shape, exit 2;
* Ctrl-C / a declined confirmation → ``中断しました / Aborted``, exit 1.
Never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import click

from did.errors import FurusatoError
from vc.dates import parse_datetime

T = TypeVar("T")

USAGE = 2  # bad usage or unreadable input
FAILED = 1  # the operation ran and failed (not verified, refused)


def fail(message_ja: str, message_en: str, code: int = USAGE) -> NoReturn:
    """Print one bilingual error line on stderr and exit with ``code``."""
    click.echo(f"エラー: {message_ja} / Error: {message_en}", err=True)
    sys.exit(code)


def fail_with(error: FurusatoError, code: int, *, prefix: str = "") -> NoReturn:
    """The error line of a core error, with its stable code."""
    fail(
        f"{prefix}{error.message_ja} [{error.code}]",
        f"{prefix}{error.message_en} [{error.code}]",
        code,
    )


def guarded(code: int, action: Callable[[], T], *, prefix: str = "") -> T:
    """Run ``action``; a core error, or a failed file operation (disk full, no permission,
    not a directory…), becomes one bilingual line and exit ``code``."""
    try:
        return action()
    except FurusatoError as exc:
        fail_with(exc, code, prefix=prefix)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = f"{exc.filename}: " if exc.filename else ""
        fail(
            f"{prefix}{where}ファイルを読み書きできません ({reason})",
            f"{prefix}{where}cannot read or write the file ({reason})",
            code,
        )


def read_input(source: str, *, max_bytes: int) -> bytes:
    """FILE or ``-`` (stdin), refusing (exit 2) more than ``max_bytes`` without reading it all."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with open(source, "rb") as handle:
                data = handle.read(max_bytes + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fail(f"{source} を読めません ({reason})", f"cannot read {source} ({reason})")
    if len(data) > max_bytes:
        fail(
            f"{source} が大きすぎます (上限 {max_bytes} バイト)",
            f"{source} is too large (limit {max_bytes} bytes)",
        )
    return data


def parse_time_option(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 option (``--now``, ``--created``); None when not given; exit 2 when bad."""
    if value is None:
        return None
    return guarded(USAGE, lambda: parse_datetime(value, name))


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


class BilingualGroup(click.Group):
    """A click group whose usage errors are one bilingual line (exit 2), never a traceback."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" ({exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            fail(
                f"コマンドの使い方が正しくありません: {exc.format_message()}{hint}",
                f"{exc.format_message()}{hint}",
            )
        except click.ClickException as exc:
            fail(exc.format_message(), exc.format_message(), exc.exit_code or USAGE)
        except click.Abort:
            click.echo("中断しました / Aborted", err=True)
            sys.exit(FAILED)
        except FurusatoError as exc:  # a refusal no command caught: still one line, never a
            fail_with(exc, FAILED)  # traceback (commands should catch their own with guarded)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)
