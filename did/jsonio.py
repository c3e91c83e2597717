"""Reading untrusted JSON with bounds.

Every document from outside (a file, an HTTP body, a decoded QR) comes through
:func:`load_json`: size first (before parsing), then a strict parse (no duplicate keys, no
NaN/Infinity, UTF-8 only), then nesting depth and total node count.  STYLE.md 7.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from did.errors import LimitExceededError, ParsingError


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on untrusted input.  The defaults suit a credential or a presentation."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 32
    max_nodes: int = 20_000
    max_credentials_per_presentation: int = 16
    max_proofs_per_document: int = 8
    max_blank_nodes: int = 512


DEFAULT_LIMITS = Limits()


def _reject_constant(name: str) -> Any:
    raise ParsingError(f"JSON value {name} is not allowed", f"JSON の値 {name} は使用できません")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ParsingError(
                f"duplicate JSON key {key[:80]!r}",
                f"JSON のキー {key[:80]!r} が重複しています",
                path=key[:80],
            )
        result[key] = value
    return result


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_text(text: str) -> None:
    # JSON's \ud800 escapes can produce lone surrogates: not Unicode text, and nothing can
    # encode them as UTF-8 later (printing, signing).
    if _SURROGATE.search(text):
        raise ParsingError(
            "the input holds a lone UTF-16 surrogate (not valid Unicode text)",
            "入力に不正な Unicode 文字 (対になっていないサロゲート) があります",
        )


def check_shape(value: Any, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise if ``value`` nests deeper than ``limits.max_depth``, has too many nodes, or
    holds a string that is not valid Unicode."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise LimitExceededError(
                f"the document has more than {limits.max_nodes} JSON values",
                f"文書の JSON 値が多すぎます (上限 {limits.max_nodes})",
            )
        if isinstance(item, str):
            _check_text(item)
            continue
        if isinstance(item, dict):
            for key in item:
                _check_text(key)
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limits.max_depth:
            raise LimitExceededError(
                f"the document nests deeper than {limits.max_depth} levels",
                f"文書の入れ子が深すぎます (上限 {limits.max_depth} 段)",
            )
        stack.extend((child, depth + 1) for child in children)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ParsingError(
            f"the number {text[:40]} is too large", f"数値 {text[:40]} が大きすぎます"
        )
    return value


def load_json(data: bytes | str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse untrusted JSON within ``limits``; raise ParsingError/LimitExceededError."""
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if size > limits.max_bytes:
        raise LimitExceededError(
            f"input is {size} bytes; the limit is {limits.max_bytes}",
            f"入力が {size} バイトあり、上限 {limits.max_bytes} バイトを超えています",
        )
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ParsingError(
                "input is not UTF-8 text", "入力が UTF-8 のテキストではありません"
            ) from None
    else:
        text = data
    text = text.removeprefix("\ufeff")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise LimitExceededError(
            f"the document nests deeper than {limits.max_depth} levels",
            f"文書の入れ子が深すぎます (上限 {limits.max_depth} 段)",
        ) from None
    except json.JSONDecodeError as exc:
        raise ParsingError(
            f"input is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            f"入力が正しい JSON ではありません ({exc.lineno} 行 {exc.colno} 列)",
        ) from None
    except ValueError:  # an integer beyond Python's 4,300-digit conversion limit
        raise ParsingError(
            "input holds a number too long to read", "入力に長すぎる数値があります"
        ) from None
    check_shape(value, limits)
    return value
