"""The documentation says what the code does.

* every relative link and ``#anchor`` of README.md and docs/**/*.md resolves (GitHub's anchors,
  Japanese headings included);
* every ``furusato-issuer``, ``furusato-wallet`` and ``furusato-verifier`` command line in a
  code block of README.md and docs/*.md names subcommands and ``--options`` that exist, resolved
  through the click groups themselves;
* docs/guide-verifiers.md lists every check and every code the verifier can show, with the
  messages the code has — and the code has no check or code outside those lists;
* the policy example of the guide does what the guide says;
* every file and test docs/security.md cites exists;
* the bugs found while writing docs/security.md, pinned (strict xfail).
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shlex
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import click
import pytest

import shellkit.files
from did.errors import MalformedValueError
from did.keys import KeyType, PrivateKey
from did.web import VerificationKeyEntry, build_did_document
from tests.vc.qr_fixtures import ISSUER_KEY, NOW, issuer_did, presentation, signed_credential
from vc import envelope
from vc.dataintegrity import ASSERTION_METHOD, add_proof
from vc.dates import format_datetime
from vc.issue import issue_credential
from vc.registry import Registry, RegistryEntry, entry_from_did_document
from vc.result import CHECK_NAMES, CODES, from_error
from vc.statuslist import BitstringStatusList, StatusListDocument, build_status_list_credential
from vc.suites.eddsa_rdfc_2022 import EDDSA_RDFC_2022
from verifier.cache import VerifierCache
from verifier.check import check
from verifier.cli import load_policy
from verifier.policy import MEMBERS, Policy

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GUIDE = DOCS / "guide-verifiers.md"
SECURITY = DOCS / "security.md"
POLICY_EXAMPLE = DOCS / "examples" / "policy-atsuma-premium.json"


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def command_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


# --- Markdown ---------------------------------------------------------------------------------

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([^\s`]*)")


@dataclass(frozen=True)
class Block:
    """A fenced code block: its info string's first word and its lines (1-based numbers)."""

    lang: str
    lines: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Markdown:
    prose: tuple[tuple[int, str], ...]  # lines outside code blocks
    blocks: tuple[Block, ...]


@cache
def parse_markdown(path: Path) -> Markdown:
    prose: list[tuple[int, str]] = []
    blocks: list[Block] = []
    fence: str | None = None
    lang = ""
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, lang, lines = match.group(1), match.group(2).lower(), []
            else:
                prose.append((number, line))
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
            if not line.strip().strip(fence[0]):
                blocks.append(Block(lang, tuple(lines)))
                fence = None
            else:
                lines.append((number, line))
        else:
            lines.append((number, line))
    if fence is not None:  # an unclosed fence runs to the end, as on GitHub
        blocks.append(Block(lang, tuple(lines)))
    return Markdown(tuple(prose), tuple(blocks))


CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def without_code_spans(line: str) -> str:
    return CODE_SPAN.sub("code", line)


HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ID = re.compile(r"<a\s+(?:[^>]*\s)?(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: the text as rendered, lower case, without punctuation
    (letters, marks, numbers, ``_``, ``-`` and spaces stay), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "").replace("*", "").strip().lower()
    kept = "".join(
        c
        for c in text
        if c in " -" or unicodedata.category(c)[0] in "LMN" or unicodedata.category(c) == "Pc"
    )
    return kept.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in parse_markdown(path).prose:
        for html_id in HTML_ID.findall(line):
            found.add(html_id)
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s>]*(?:\([^()\s]*\)[^()\s>]*)*)>?"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HTML_LINK = re.compile(r"(?:href|src)=\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")


def links(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in parse_markdown(path).prose:
        text = without_code_spans(line)
        for pattern in (INLINE_LINK, REFERENCE, HTML_LINK):
            for match in pattern.finditer(text):
                yield number, match.group(1)


def link_problem(source: Path, target: str) -> str | None:
    """Why ``target`` (a link in ``source``) does not resolve, or None."""
    if not target or SCHEME.match(target):
        return None
    where, _, fragment = target.partition("#")
    if where:
        resolved = (source.parent / unquote(where)).resolve()
        if not resolved.is_relative_to(ROOT):
            return "leaves the repository"
        if not resolved.exists():
            return "no such file"
    else:
        resolved = source
    if fragment and resolved.suffix == ".md" and unquote(fragment).lower() not in anchors(resolved):
        return f"no heading with the anchor #{fragment} in {_name(resolved)}"
    return None


@pytest.mark.parametrize("path", markdown_files(), ids=_name)
def test_links_and_anchors_resolve(path: Path) -> None:
    broken = [
        f"{_name(path)}:{number}: ({target}) {problem}"
        for number, target in links(path)
        if (problem := link_problem(path, target)) is not None
    ]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("1. 準備するもの / What you need", "1-準備するもの--what-you-need"),
        ("`sync`", "sync"),
        ("Policy files / 受付条件", "policy-files--受付条件"),
        (
            "6. QR コードを確認する / Checking a resident's QR code",
            "6-qr-コードを確認する--checking-a-residents-qr-code",
        ),
        ("What's new — v1.0 (beta)", "whats-new--v10-beta"),
        ("[The envelope](envelope.md) and `FR1:`", "the-envelope-and-fr1"),
        ("ふるさと住民 (プレミアム)・登録", "ふるさと住民-プレミアム登録"),
        ("under_score", "under_score"),
    ],
)
def test_the_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_repeated_headings_are_numbered(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# 使い方\n\n## Use\n\n```sh\n# not a heading\n```\n\n## Use\n\n## Use\n")
    assert anchors(page) == {"使い方", "use", "use-1", "use-2"}


# --- command lines ----------------------------------------------------------------------------

PROGRAMS = {
    "furusato-issuer": "issuer.cli",
    "furusato-wallet": "wallet_cli.cli",
    "furusato-verifier": "verifier.cli",
}
SHELL = frozenset({"sh", "bash", "shell", "console", "zsh", "shell-session", "sh-session"})
CONTROL = frozenset({"&&", "||", ";", "|", "&", "(", ")", ";;", "|&"})
WRAPPERS = frozenset({"sudo", "env", "exec", "nohup", "time", "xargs", "watch"})
CRON_FIELD = re.compile(r"^(\*|[0-9*/,-]+|@[a-z]+)$")


def _strip_comment(line: str) -> str:
    """The line without a shell comment (a ``#`` starting a word, outside quotes)."""
    quote: str | None = None
    previous = " "
    for i, char in enumerate(line):
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and previous.isspace():
            return line[:i]
        previous = char
    return line


def command_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, command) for each shell command line of a code block: every line of a
    shell block (``sh``, ``bash``, ``console`` …), the ``$ `` lines of any block that has them,
    and the lines of a block without a language that start with one of the programs (such a
    block may be a directory tree or a URL as well); continuations joined."""
    for block in parse_markdown(path).blocks:
        prompts = any(text.lstrip().startswith("$ ") for _, text in block.lines)
        if not prompts and block.lang not in SHELL and block.lang != "":
            continue
        only_programs = not prompts and block.lang == ""
        pending: tuple[int, str] | None = None
        for number, raw in block.lines:
            if pending is None:
                stripped = raw.lstrip()
                if prompts:
                    if not stripped.startswith("$ "):
                        continue
                    stripped = stripped[2:]
                elif only_programs and stripped.split(" ", 1)[0] not in PROGRAMS:
                    continue
                text = _strip_comment(stripped).rstrip()
                start = number
            else:
                start, before = pending
                text = before + " " + _strip_comment(raw.strip()).rstrip()
            if text.endswith("\\"):
                pending = (start, text[:-1])
                continue
            pending = None
            if any(program in text for program in PROGRAMS):
                yield start, text
        if pending is not None and any(program in pending[1] for program in PROGRAMS):
            yield pending


def invocations(line: str) -> Iterator[tuple[str, list[str]]]:
    """(program, arguments) of each furusato command in a shell line."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words = list(lexer)
    segment: list[str] = []
    for word in [*words, ";"]:
        if word in CONTROL:
            yield from _invocation(segment)
            segment = []
        else:
            segment.append(word)


def _invocation(words: list[str]) -> Iterator[tuple[str, list[str]]]:
    for i, word in enumerate(words):
        name = word.rsplit("/", 1)[-1]
        if name in PROGRAMS:
            yield name, _without_redirections(words[i + 1 :])
            return
        assignment = "=" in word and not word.startswith("-")
        if not (assignment or word in WRAPPERS or CRON_FIELD.match(word)):
            return  # the command is something else


def _without_redirections(words: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word and set(word) <= set("<>&"):
            skip = True  # the redirection's target
        else:
            out.append(word)
    return out


@cache
def program_group(program: str) -> click.Command:
    command = importlib.import_module(PROGRAMS[program]).main
    assert isinstance(command, click.Command)
    return command


def _params(command: click.Command) -> dict[str, click.Parameter]:
    context = click.Context(command)
    return {
        opt: param
        for param in command.get_params(context)
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("-")
    }


def _takes_value(param: click.Parameter) -> int:
    if isinstance(param, click.Option) and (param.is_flag or param.count):
        return 0
    return max(param.nargs, 1)


def command_problem(program: str, arguments: list[str]) -> str | None:
    """Why ``program arguments`` does not resolve through the click groups, or None."""
    command = program_group(program)
    path = program
    words = iter(arguments)
    for word in words:
        if word == "--":
            return None
        if word.startswith("-") and word != "-":
            option = word.split("=", 1)[0] if word.startswith("--") else word
            params = _params(command)
            if option not in params:
                known = ", ".join(sorted(o for o in params if o.startswith("--")))
                return f"{option} is not an option of '{path}' (it has: {known})"
            if "=" not in word:
                for _ in range(_takes_value(params[option])):
                    next(words, None)
            continue
        if isinstance(command, click.Group):
            context = click.Context(command)
            sub = command.get_command(context, word)
            if sub is None:
                known = ", ".join(command.list_commands(context))
                return f"'{path}' has no subcommand {word!r} (it has: {known})"
            command, path = sub, f"{path} {word}"
    return None


def test_the_programs_are_the_console_scripts() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    for program, module in PROGRAMS.items():
        assert f'{program} = "{module}:main"' in pyproject


@pytest.mark.parametrize("path", command_files(), ids=_name)
def test_command_lines_name_real_subcommands_and_options(path: Path) -> None:
    problems = []
    for number, line in command_lines(path):
        try:
            found = list(invocations(line))
        except ValueError as exc:  # unbalanced quotes
            problems.append(f"{_name(path)}:{number}: {line.strip()}: {exc}")
            continue
        for program, arguments in found:
            problem = command_problem(program, arguments)
            if problem is not None:
                problems.append(f"{_name(path)}:{number}: {line.strip()}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("furusato-verifier sync --registry r.jws --registry-key k.jwk", None),
        ("furusato-verifier --version", None),
        ("furusato-wallet --lang en premium-status --json", None),
        ("furusato-issuer keys rotate --lg-code 015814", None),
        ("furusato-issuer keygen > issuer.jwk && furusato-issuer sign --key x c.json", None),
        ("furusato-verifier verify qr.png --policy=p.json --json --lang en", None),
        ("30 5 * * * ~/furusato/bin/furusato-verifier sync --registry x", None),
        ("ls ~/.cache/furusato-verifier --frobnicate", None),  # not the program: an argument
        ("furusato-verifier frobnicate", "has no subcommand 'frobnicate'"),
        ("furusato-verifier verify qr.png --frobnicate", "--frobnicate is not an option"),
        ("furusato-issuer keys spin", "'furusato-issuer keys' has no subcommand 'spin'"),
        ("furusato-wallet present ID --lang en", "--lang is not an option"),  # a group option
        ("x | furusato-verifier serve --port 1 --lg-code 1", "--lg-code is not an option"),
    ],
)
def test_command_checking_itself(line: str, problem: str | None) -> None:
    found = [command_problem(p, a) for p, a in invocations(line)]
    if problem is None:
        assert found in ([], [None], [None, None]), found
    else:
        assert any(f is not None and problem in f for f in found), found


def test_command_lines_are_found_in_blocks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "`furusato-verifier nope` in prose is not a command line\n\n"
        "```sh\nfurusato-verifier sync --registry r \\\n    --registry-key k.jwk  # note\n```\n\n"
        "```text\n$ furusato-wallet list\noutput: furusato-wallet nope\n```\n\n"
        '```json\n{"furusato-wallet": 1}\n```\n\n'
        "```\nwallet_cli/  furusato-wallet: the resident's wallet\nfurusato-wallet init\n```\n"
    )
    assert list(command_lines(page)) == [
        (4, "furusato-verifier sync --registry r  --registry-key k.jwk"),
        (9, "furusato-wallet list"),
        (19, "furusato-wallet init"),
    ]


# --- the verifier guide's result tables ---------------------------------------------------------


def _cells(row: str) -> list[str]:
    inner = row.strip()[1:-1] if row.strip().endswith("|") else row.strip()[1:]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def marked_tables(path: Path, marker: str) -> list[list[list[str]]]:
    """The tables that follow ``<!-- marker -->`` (rows of cells, without the header)."""
    lines = path.read_text("utf-8").splitlines()
    tables = []
    for i, line in enumerate(lines):
        if line.strip() != f"<!-- {marker} -->":
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        rows = []
        while j < len(lines) and lines[j].lstrip().startswith("|"):
            rows.append(_cells(lines[j]))
            j += 1
        assert len(rows) >= 3, f"{marker}: no table after the marker at line {i + 1}"
        tables.append(rows[2:])
    assert tables, f"no <!-- {marker} --> table in {_name(path)}"
    return tables


def rows_by_code(marker: str) -> dict[str, list[str]]:
    """code → its row's other cells, over every table of ``marker``; a code listed twice fails."""
    out: dict[str, list[str]] = {}
    for table in marked_tables(GUIDE, marker):
        for cells in table:
            code = cells[0].strip("`")
            assert code not in out, f"{marker}: {code} is listed twice"
            out[code] = cells[1:]
    return out


def test_the_guide_lists_every_check_with_its_names() -> None:
    rows = rows_by_code("checks")
    assert list(rows) == list(CHECK_NAMES), "the checks, in vc/result.py CHECK_NAMES' order"
    for name, (ja, en) in CHECK_NAMES.items():
        assert rows[name][:2] == [ja, en], name


@pytest.mark.parametrize(("marker", "language"), [("result-codes:ja", 0), ("result-codes:en", 1)])
def test_the_guide_lists_every_code_with_its_message_and_an_action(
    marker: str, language: int
) -> None:
    rows = rows_by_code(marker)
    assert set(rows) == set(CODES), (
        f"missing: {sorted(set(CODES) - set(rows))}, unknown: {sorted(set(rows) - set(CODES))}"
    )
    for code, messages in CODES.items():
        message, action = rows[code]
        assert message == messages[language], code
        assert action, f"{code}: what to do?"


def test_both_languages_list_the_codes_in_the_same_order() -> None:
    assert list(rows_by_code("result-codes:ja")) == list(rows_by_code("result-codes:en"))


# Where the verifier makes its checks: every call that builds a Check.
SOURCES = sorted(
    [*(ROOT / "vc").rglob("*.py"), *(ROOT / "verifier").glob("*.py")],
)
OID4VP_SOURCE = ROOT / "vc" / "oid4vp.py"
CHECK_BUILDERS = frozenset({"failed", "passed", "from_error", "_unexpected", "Check", "_fail"})


def _callee(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _text(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _variants(node: ast.expr) -> list[str]:
    """The texts an expression can be: a literal, an f-string (each value as ``…``), either
    branch of a conditional; nothing for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [
            "".join(
                str(part.value) if isinstance(part, ast.Constant) else "…" for part in node.values
            )
        ]
    if isinstance(node, ast.IfExp):
        return [*_variants(node.body), *_variants(node.orelse)]
    return []


@dataclass(frozen=True)
class Made:
    """A Check built in the source: its check name and failure code where they are literal."""

    where: str
    check: str | None
    code: str | None
    messages: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


@cache
def checks_made() -> tuple[Made, ...]:
    made: list[Made] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "_CHECK_OF_CODE" for t in targets):
                    for key, value in zip(node.value.keys, node.value.values, strict=True):
                        made.append(Made(f"{_name(path)}:_CHECK_OF_CODE", _text(value), _text(key)))
            if not isinstance(node, ast.Call):
                continue
            where = f"{_name(path)}:{node.lineno}"
            for keyword in node.keywords:
                if keyword.arg == "check" and _text(keyword.value):
                    made.append(Made(where, _text(keyword.value), None))
                if keyword.arg == "controller_code" and _text(keyword.value):
                    made.append(Made(where, None, _text(keyword.value)))
            name = _callee(node)
            if name not in CHECK_BUILDERS or not node.args:
                continue
            args = node.args
            check_name = _text(args[0])
            code = None
            if name in ("failed", "_fail") and len(args) > 1:
                code = _text(args[1])
            elif name == "Check" and len(args) > 2:
                ok = args[1]
                if isinstance(ok, ast.Constant) and ok.value is False:
                    code = _text(args[2])
            messages: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
            if name == "_fail" and len(args) > 3:
                messages = (tuple(_variants(args[2])), tuple(_variants(args[3])))
            made.append(Made(where, check_name, code, messages))
    return tuple(made)


def test_the_source_has_no_check_outside_check_names() -> None:
    """A check name outside CHECK_NAMES would reach the screen untranslated (verifier.display);
    OpenID4VP's own checks (``oid4vp_*``) are shown by their messages only."""
    names = {m.check for m in checks_made() if m.check is not None}
    assert len(names) > 10, "the scan found the checks"
    stray = {
        m.where: m.check
        for m in checks_made()
        if m.check is not None and m.check not in CHECK_NAMES and not m.check.startswith("oid4vp_")
    }
    assert not stray


def test_the_source_has_no_code_outside_codes() -> None:
    """Every failure code the verifier builds is one of vc.result.CODES (or OpenID4VP's own):
    with the guide listing all of CODES, it lists every code a result can carry."""
    codes = {m.code for m in checks_made() if m.code is not None}
    assert {"revoked", "suspended", "replayed", "registry_stale", "policy_tier"} <= codes | set(
        CODES
    )
    stray = {
        m.where: m.code
        for m in checks_made()
        if m.code is not None and m.code not in CODES and not m.code.startswith("oid4vp_")
    }
    assert not stray


def test_an_error_with_a_code_outside_codes_is_shown_as_malformed() -> None:
    """Exceptions become checks through from_error, which keeps only codes of CODES."""
    from did.errors import MalformedValueError

    error = MalformedValueError("odd", "変", code="something_new")
    shown = from_error("input", error)
    assert (shown.code, shown.message_ja, shown.message_en) == ("malformed", "変", "odd")


@pytest.mark.parametrize(("marker", "language"), [("oid4vp-codes:ja", 0), ("oid4vp-codes:en", 1)])
def test_the_guide_lists_the_online_checks_codes(marker: str, language: int) -> None:
    made = [m for m in checks_made() if m.code is not None and m.code.startswith("oid4vp_")]
    expected: dict[str, set[str]] = {}
    for m in made:
        expected.setdefault(str(m.code), set()).update(m.messages[language])
    rows = rows_by_code(marker)
    assert set(rows) == set(expected)
    for code, variants in expected.items():
        listed = {v.strip() for v in rows[code][0].split(" / ")}
        assert listed == variants, code


def test_the_guide_lists_the_pages_own_errors() -> None:
    """Every code of ``WebError`` in verifier/web.py, with its messages where they are literal
    (or, where the page's script words it, as scan.js does)."""
    tree = ast.parse((ROOT / "verifier" / "web.py").read_text("utf-8"))
    expected: dict[str, tuple[set[str], set[str]]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _callee(node) == "WebError"):
            continue
        code_of = next(k.value for k in node.keywords if k.arg == "code")
        en, ja = (set(_variants(a)) for a in node.args[:2])
        for value in _variants(code_of):
            if "…" not in value:
                old_ja, old_en = expected.get(value, (set(), set()))
                expected[value] = (old_ja | ja, old_en | en)
    rows = rows_by_code("page-errors")
    assert set(rows) == set(expected)
    script = (ROOT / "verifier" / "static" / "scan.js").read_text("utf-8")
    for code, (ja, en) in expected.items():
        shown_ja, shown_en, action = rows[code]
        assert action, code
        if ja or en:
            assert shown_ja in ja, code
            assert shown_en in en, code
        else:
            assert f'"{shown_ja}"' in script, code
            assert f'"{shown_en}"' in script, code


def test_the_guide_names_real_sync_failures() -> None:
    """The sync failure codes of the troubleshooting table are codes the code raises."""
    codes = set(re.findall(r"同期で `([a-z_]+)`(?: か `([a-z_]+)`)?", GUIDE.read_text("utf-8")))
    named = {c for pair in codes for c in pair if c}
    assert len(named) >= 6
    source = "".join(p.read_text("utf-8") for p in SOURCES)
    for code in named:
        assert f'"{code}"' in source, code


# --- the policy example ----------------------------------------------------------------------


def _entry(lg_code: str) -> RegistryEntry:
    did = issuer_did(lg_code)
    document = build_did_document(did, [VerificationKeyEntry("key-1", ISSUER_KEY.public_key)])
    return entry_from_did_document(
        document, lg_code=lg_code, status_base_url=f"https://furusato.example.jp/status/{lg_code}"
    )


def _registry(*lg_codes: str) -> Registry:
    return Registry(
        sequence=1,
        issued_at=NOW - timedelta(days=1),
        next_update=NOW + timedelta(days=6),
        entries=[_entry(code) for code in lg_codes],
        authority="総務省 (test)",
    )


class StatusLists:
    """The synced status lists of some municipalities, as the verifier's cache holds them:
    nothing revoked, fetched an hour ago."""

    def __init__(self, *lg_codes: str, key: PrivateKey = ISSUER_KEY) -> None:
        self.lists: dict[str, StatusListDocument] = {}
        for lg_code in lg_codes:
            did = issuer_did(lg_code)
            for purpose in ("revocation", "suspension"):
                url = f"https://furusato.example.jp/status/{lg_code}/{purpose}/1"
                unsigned = build_status_list_credential(
                    list_url=url,
                    issuer=did,
                    purpose=purpose,
                    status_list=BitstringStatusList(131_072),
                    valid_from=format_datetime(NOW - timedelta(hours=2)),
                    valid_until=format_datetime(NOW + timedelta(days=1)),
                )
                signed = issue_credential(
                    unsigned, key, verification_method=did + "#key-1", created=NOW
                )
                self.lists[url] = StatusListDocument(signed, NOW - timedelta(hours=1))

    def get(self, url: str) -> StatusListDocument | None:
        return self.lists.get(url)


def _qr(lg_code: str, tier: str) -> str:
    vp = presentation(signed_credential(lg_code=lg_code, tier=tier))
    return envelope.encode_presentation(vp)


def _json_blocks(path: Path) -> list[Any]:
    return [
        json.loads("\n".join(text for _, text in block.lines))
        for block in parse_markdown(path).blocks
        if block.lang == "json"
    ]


def test_the_guide_shows_the_policy_example_file() -> None:
    blocks = _json_blocks(GUIDE)
    assert json.loads(POLICY_EXAMPLE.read_text("utf-8")) in blocks
    assert "examples/policy-atsuma-premium.json" in GUIDE.read_text("utf-8")


def test_every_policy_in_the_guide_is_valid() -> None:
    blocks = _json_blocks(GUIDE)
    assert len(blocks) >= 3
    for value in blocks:
        assert set(value) <= MEMBERS
        Policy.from_json(value)


@pytest.mark.parametrize(
    ("lg_code", "tier", "codes"),
    [
        ("015814", "premium", []),  # 厚真町, premium: accepted
        ("015814", "basic", ["policy_tier"]),
        ("011002", "premium", ["policy_municipality"]),  # 札幌市
    ],
)
def test_the_policy_example_accepts_premium_of_atsuma_only(
    lg_code: str, tier: str, codes: list[str]
) -> None:
    """What the guide says of examples/policy-atsuma-premium.json, read as the CLI reads it,
    on a QR code checked as the scanner checks it (registry, status lists, holder, window)."""
    policy = load_policy(str(POLICY_EXAMPLE))
    result = check(
        _qr(lg_code, tier),
        policy=policy,
        now=NOW,
        registry=_registry("015814", "011002"),
        status_lists=StatusLists("015814", "011002"),
    )
    assert (result.verified, result.codes) == (not codes, codes)
    assert [w.code for w in result.warnings] == ["challenge_not_checked"]


# --- the security page --------------------------------------------------------------------------

TOP = "did|schemas|vc|issuer|verifier|wallet_cli|shellkit|tests|bench|docs|scripts"
CITED = re.compile(rf"`((?:{TOP})/[A-Za-z0-9_./-]*)(?:::([A-Za-z_][A-Za-z0-9_]*))?`")


def citations(path: Path) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2) or None) for m in CITED.finditer(path.read_text("utf-8"))]


def test_every_file_and_test_the_security_page_cites_exists() -> None:
    cited = citations(SECURITY)
    assert len(cited) >= 40
    missing = []
    for file, test in cited:
        path = ROOT / file
        if not path.exists():
            missing.append(f"{file}: no such file")
        elif test is not None and not re.search(
            rf"^(?:async )?def {re.escape(test)}\(", path.read_text("utf-8"), re.MULTILINE
        ):
            missing.append(f"{file}: no test {test}")
    assert not missing, "\n".join(missing)


def test_every_threat_names_the_test_that_proves_it() -> None:
    sections = re.split(r"^## \d+\. ", SECURITY.read_text("utf-8"), flags=re.MULTILINE)[1:]
    assert len(sections) >= 14
    for section in sections:
        title = section.splitlines()[0]
        assert re.search(r"`tests/[^`]+::test_\w+`", section), title


# --- bugs found while writing docs/security.md ----------------------------------------------


def test_a_did_document_option_cannot_replace_a_registry_key() -> None:
    """``furusato-verifier verify --did-document FILE`` is for issuers outside the registry;
    with a registry, a DID document naming a listed municipality's DID must not change which
    key verifies its credentials and status lists."""
    forger = PrivateKey.from_seed(KeyType.ED25519, bytes([7]) * 32)
    did = issuer_did("015814")
    unsigned = {k: v for k, v in signed_credential().items() if k != "proof"}
    forged = issue_credential(
        unsigned, forger, verification_method=did + "#key-1", created=NOW - timedelta(days=1)
    )
    result = check(
        envelope.encode_presentation(presentation(forged)),
        policy=Policy(),
        now=NOW,
        registry=_registry("015814"),
        status_lists=StatusLists("015814", key=forger),
        did_documents={
            did: build_did_document(did, [VerificationKeyEntry("key-1", forger.public_key)])
        },
    )
    assert not result.verified
    assert "signature_invalid" in result.codes


def test_a_resident_credential_without_status_entries_is_refused() -> None:
    did = issuer_did("015814")
    unsigned = {
        k: v for k, v in signed_credential().items() if k not in ("proof", "credentialStatus")
    }
    # our issuance refuses it; a rogue issuer signs it anyway (the proof alone)
    with pytest.raises(MalformedValueError, match=r"credentialStatus|revocation"):
        issue_credential(unsigned, ISSUER_KEY, verification_method=did + "#key-1", created=NOW)
    irrevocable = add_proof(
        unsigned,
        ISSUER_KEY,
        verification_method=did + "#key-1",
        suite=EDDSA_RDFC_2022,
        proof_purpose=ASSERTION_METHOD,
        created=NOW - timedelta(days=1),
    )
    result = check(
        envelope.encode_presentation(presentation(irrevocable)),
        policy=Policy(),
        now=NOW,
        registry=_registry("015814"),
        status_lists=StatusLists("015814"),
    )
    assert not result.verified


def test_the_verifier_cache_needs_no_unix_only_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a verifier does on a Windows PC: Python there has no ``os.sync`` and cannot open a
    directory with ``os.open`` (PermissionError)."""
    real_open = os.open

    def windows_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).is_dir():
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.delattr(os, "sync")
    monkeypatch.setattr(os, "open", windows_open)
    monkeypatch.setattr(shellkit.files, "DIRECTORY_FSYNC", False)  # os.name == "nt" there
    lists = StatusLists("015814")
    cache_ = VerifierCache(tmp_path / "cache")
    cache_.store_statuses({url: d.credential for url, d in lists.lists.items()}, NOW)
    assert cache_.age().lists == 2
