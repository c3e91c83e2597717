"""``furusato-verifier verify``: results, languages, presentations, status, and hostile input.

Exit codes: 0 verified, 1 not verified, 2 usage or unreadable input.  Hostile input (garbage,
50 MB, 100,000 levels of nesting, unknown contexts, …) must end with one clear line in Japanese
and English, never a traceback, in bounded memory and without the network.
"""

from __future__ import annotations

import copy
import json
import random
import re
import resource
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from did.keys import KeyType
from issuer.cli import main as issuer_main
from tests.cli.helpers import (
    OTHER_SEED,
    Doc,
    assert_one_line_error,
    generic_credential,
    invoke,
    key_did,
    key_vm,
    run_script,
    seeded_key,
    write_json,
)
from vc.issue import issue_credential
from vc.presentation import create_presentation, sign_presentation
from verifier.cli import main as verifier_main

ISSUER = seeded_key(KeyType.ED25519)
HOLDER = seeded_key(KeyType.ED25519, OTHER_SEED)
SIGNED_AT = datetime(2026, 1, 1, tzinfo=UTC)
CHALLENGE = "c-7f3a9e"
DOMAIN = "verifier.example.jp"
MAX_INPUT = 1024 * 1024  # did.jsonio.DEFAULT_LIMITS.max_bytes
BIG = 50 * 1024 * 1024
MEMORY_LIMIT = 300 * 1024 * 1024
# Kana and kanji, but not U+30FB (・), the bullet of the human output in both languages.
JAPANESE = re.compile(r"[\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u4e00-\u9fff]")


def signed_credential(**extra: Any) -> Doc:
    return issue_credential(
        generic_credential(key_did(ISSUER), **extra),
        ISSUER,
        verification_method=key_vm(ISSUER),
        created=SIGNED_AT,
    )


def signed_presentation() -> Doc:
    credential = issue_credential(
        {
            **generic_credential(key_did(ISSUER)),
            "credentialSubject": {"id": key_did(HOLDER), "name": "Alice"},
        },
        ISSUER,
        verification_method=key_vm(ISSUER),
        created=SIGNED_AT,
    )
    return sign_presentation(
        create_presentation([credential], holder=key_did(HOLDER)),
        HOLDER,
        verification_method=key_vm(HOLDER),
        challenge=CHALLENGE,
        domain=DOMAIN,
        created=SIGNED_AT,
    )


def verify(*args: str, stdin: bytes | str | None = None) -> Result:
    # These credentials are signed by test keys that no registry lists: trust any issuer.
    return invoke(verifier_main, ["verify", "--any-issuer", *args], stdin=stdin)


def verify_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = verify(*args, "--json")
    assert result.stderr == ""
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def credential_file(tmp_path: Path) -> Path:
    return write_json(tmp_path / "credential.json", signed_credential())


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files of ``furusato-issuer demo --core --out DIR``: its credential ends up revoked."""
    out = tmp_path_factory.mktemp("demo")
    result = invoke(issuer_main, ["demo", "--core", "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 MB of valid JSON (an array of zeros): parsed whole it needs far more than 300 MB."""
    path = tmp_path_factory.mktemp("big") / "big.json"
    body = b"0," * ((BIG - 2) // 2)
    path.write_bytes(b"[" + body[:-1] + b"]")
    return path


# --- results -----------------------------------------------------------------------------------


def test_json_output_has_verified_codes_and_checks(credential_file: Path) -> None:
    code, result = verify_json(str(credential_file))
    assert code == 0
    assert result["verified"] is True
    assert result["kind"] == "credential"
    assert result["codes"] == []
    assert [c["check"] for c in result["checks"]] == ["data_model", "contexts", "proof", "validity"]
    for check in result["checks"]:
        assert check["ok"] is True
        assert check["code"] == "ok"
        assert check["message"]["ja"]
        assert check["message"]["en"]


def test_human_output_is_japanese_by_default_and_english_with_lang_en(
    credential_file: Path,
) -> None:
    ja = verify(str(credential_file))
    assert ja.exit_code == 0
    assert ja.stdout.startswith("✓ 有効です")
    assert "VALID" not in ja.stdout

    en = verify(str(credential_file), "--lang", "en")
    assert en.exit_code == 0
    assert en.stdout.startswith("✓ VALID (verified)")
    assert "signature verified (eddsa-rdfc-2022)" in en.stdout
    assert not JAPANESE.search(en.stdout), en.stdout


def test_tampered_credential_is_not_verified(tmp_path: Path) -> None:
    tampered = signed_credential()
    tampered["credentialSubject"]["name"] = "Mallory"
    path = write_json(tmp_path / "tampered.json", tampered)
    code, result = verify_json(str(path))
    assert code == 1
    assert result["verified"] is False
    assert result["codes"] == ["signature_invalid"]
    failed = [c for c in result["checks"] if not c["ok"]]
    assert [(c["check"], c["code"]) for c in failed] == [("proof", "signature_invalid")]

    human = verify(str(path), "--lang", "en")
    assert human.exit_code == 1
    assert human.stdout.startswith("✗ NOT VALID")
    assert "[signature_invalid]" in human.stdout


def test_validity_period_against_now(credential_file: Path, tmp_path: Path) -> None:
    code, early = verify_json(str(credential_file), "--now", "2025-12-01T00:00:00Z")
    assert code == 1
    assert early["codes"] == ["not_yet_valid"]

    expiring = write_json(
        tmp_path / "expiring.json", signed_credential(validUntil="2026-06-30T00:00:00Z")
    )
    assert verify_json(str(expiring), "--now", "2026-03-01T00:00:00+09:00")[0] == 0
    code, late = verify_json(str(expiring), "--now", "2027-01-01T00:00:00Z")
    assert code == 1
    assert late["codes"] == ["expired"]


@pytest.mark.parametrize(
    "now", ["garbage", "2026-01-01", "2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "now"]
)
def test_now_that_is_not_a_date_time_is_a_usage_error(credential_file: Path, now: str) -> None:
    result = verify(str(credential_file), "--now", now)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=["--now"])


def test_empty_now_is_a_usage_error(credential_file: Path) -> None:
    result = verify(str(credential_file), "--now", "")
    assert result.exit_code == 2


def test_credential_from_standard_input(credential_file: Path) -> None:
    result = verify("-", "--json", stdin=credential_file.read_bytes())
    assert result.exit_code == 0
    assert json.loads(result.stdout)["verified"] is True


# --- presentations -----------------------------------------------------------------------------


def test_presentation_with_the_right_challenge(tmp_path: Path) -> None:
    path = write_json(tmp_path / "presentation.json", signed_presentation())
    code, result = verify_json(str(path), "--challenge", CHALLENGE, "--domain", DOMAIN)
    assert code == 0, result
    assert result["kind"] == "presentation"
    assert result["codes"] == []
    assert result["warnings"] == []
    assert [c["verified"] for c in result["credentials"]] == [True]


def test_presentation_with_a_wrong_challenge(tmp_path: Path) -> None:
    path = write_json(tmp_path / "presentation.json", signed_presentation())
    code, result = verify_json(str(path), "--challenge", "replayed", "--domain", DOMAIN)
    assert code == 1
    assert result["codes"] == ["challenge_mismatch"]

    human = verify(str(path), "--challenge", "replayed", "--lang", "en")
    assert human.exit_code == 1
    assert "[challenge_mismatch]" in human.stdout


def test_presentation_with_a_wrong_domain(tmp_path: Path) -> None:
    path = write_json(tmp_path / "presentation.json", signed_presentation())
    code, result = verify_json(str(path), "--challenge", CHALLENGE, "--domain", "evil.example")
    assert code == 1
    assert result["codes"] == ["domain_mismatch"]


def test_presentation_without_challenge_verifies_with_a_warning(tmp_path: Path) -> None:
    path = write_json(tmp_path / "presentation.json", signed_presentation())
    code, result = verify_json(str(path))
    assert code == 0
    assert [w["code"] for w in result["warnings"]] == ["challenge_not_checked"]


# --- the demo's files: did:web, status lists ---------------------------------------------------


def test_demo_credential_is_revoked(demo_dir: Path) -> None:
    code, result = verify_json(
        str(demo_dir / "credential.json"),
        "--did-document",
        str(demo_dir / "did.json"),
        "--status-list",
        str(demo_dir / "status-revocation.json"),
        "--status-list",
        str(demo_dir / "status-suspension.json"),
    )
    assert code == 1
    assert result["codes"] == ["revoked"]
    status = [c for c in result["checks"] if c["check"] == "status"]
    assert [c["code"] for c in status] == ["revoked", "ok"]  # revocation, suspension


def test_demo_credential_without_status_lists_is_status_unknown(demo_dir: Path) -> None:
    code, result = verify_json(
        str(demo_dir / "credential.json"), "--did-document", str(demo_dir / "did.json")
    )
    assert code == 1
    assert result["codes"] == ["status_unknown"]


def test_demo_credential_with_only_one_status_list(demo_dir: Path) -> None:
    code, result = verify_json(
        str(demo_dir / "credential.json"),
        "--did-document",
        str(demo_dir / "did.json"),
        "--status-list",
        str(demo_dir / "status-suspension.json"),
    )
    assert code == 1
    assert result["codes"] == ["status_unknown"]  # the revocation list is missing


def test_demo_credential_without_did_document_is_unresolved(demo_dir: Path) -> None:
    code, result = verify_json(str(demo_dir / "credential.json"))
    assert code == 1
    assert result["codes"] == ["verification_method_unresolved"]


def test_demo_presentation_carries_the_revoked_credential(demo_dir: Path) -> None:
    presentation = json.loads((demo_dir / "presentation.json").read_text("utf-8"))
    challenge = presentation["proof"]["challenge"]
    code, result = verify_json(
        str(demo_dir / "presentation.json"),
        "--challenge",
        challenge,
        "--domain",
        presentation["proof"]["domain"],
        "--did-document",
        str(demo_dir / "did.json"),
        "--status-list",
        str(demo_dir / "status-revocation.json"),
        "--status-list",
        str(demo_dir / "status-suspension.json"),
    )
    assert code == 1
    assert result["codes"] == ["revoked"]
    assert all(c["ok"] for c in result["checks"])  # the holder's part is fine


def test_demo_human_output_summarises_the_credential(demo_dir: Path) -> None:
    result = verify(str(demo_dir / "credential.json"), "--did-document", str(demo_dir / "did.json"))
    assert result.exit_code == 1
    assert "自治体: 北海道 厚真町 (015814)" in result.stdout
    assert "登録区分: ベーシック" in result.stdout
    assert "[status_unknown]" in result.stdout


def test_status_pass_messages_are_good_english(demo_dir: Path) -> None:
    result = verify(
        str(demo_dir / "credential.json"),
        "--did-document",
        str(demo_dir / "did.json"),
        "--status-list",
        str(demo_dir / "status-suspension.json"),
        "--lang",
        "en",
    )
    assert "not suspended" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\xff\xfe", "UTF-8"),
        (b"[]", "DID"),
        (b'{"id": 7}', "DID"),
        (b"[" * 100_000 + b"]" * 100_000, "32"),
    ],
    ids=["not-utf8", "array", "id-not-string", "deep"],
)
def test_bad_did_document_is_a_usage_error(
    credential_file: Path, tmp_path: Path, content: bytes, needle: str
) -> None:
    bad = tmp_path / "did.json"
    bad.write_bytes(content)
    result = verify(str(credential_file), "--did-document", str(bad))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["did.json", needle])


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"not json", "JSON"), (b"[1]", "id"), (b'{"type": "X"}', "id")],
    ids=["not-json", "array", "no-id"],
)
def test_bad_status_list_file_is_a_usage_error(
    demo_dir: Path, tmp_path: Path, content: bytes, needle: str
) -> None:
    bad = tmp_path / "status.json"
    bad.write_bytes(content)
    result = verify(
        str(demo_dir / "credential.json"),
        "--did-document",
        str(demo_dir / "did.json"),
        "--status-list",
        str(bad),
    )
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["status.json", needle])


def test_status_list_from_standard_input(demo_dir: Path) -> None:
    result = verify(
        str(demo_dir / "credential.json"),
        "--did-document",
        str(demo_dir / "did.json"),
        "--status-list",
        "-",
        stdin=(demo_dir / "status-revocation.json").read_bytes(),
    )
    assert result.exit_code in (1, 2)


# --- hostile input -----------------------------------------------------------------------------

Builder = Callable[[Path], Path]


def _bytes(content: bytes) -> Builder:
    def build(directory: Path) -> Path:
        path = directory / "input.json"
        path.write_bytes(content)
        return path

    return build


def _directory(directory: Path) -> Path:
    path = directory / "a-directory"
    path.mkdir()
    return path


def _missing(directory: Path) -> Path:
    return directory / "does-not-exist.json"


def _sparse_big(directory: Path) -> Path:
    path = directory / "big.json"
    with path.open("wb") as handle:
        handle.truncate(BIG)
    return path


GARBAGE = random.Random(20270115).randbytes(4096) + b"\xff"

# name → (builder, text the one error line must contain); all exit 2
USAGE_ERRORS: dict[str, tuple[Builder, str]] = {
    "garbage-bytes": (_bytes(GARBAGE), "UTF-8"),
    "invalid-utf8": (_bytes(b'{"name": "\xe3\x81"}'), "UTF-8"),
    "latin1": (_bytes('{"name": "Zoë"}'.encode("latin-1")), "UTF-8"),
    "empty": (_bytes(b""), "JSON"),
    "not-json": (_bytes(b"hello"), "JSON"),
    "truncated": (_bytes(b'{"@context": ['), "JSON"),
    "nan": (_bytes(b'{"a": NaN}'), "NaN"),
    "duplicate-key": (_bytes(b'{"a": 1, "a": 2}'), "'a'"),
    "nested-arrays": (_bytes(b"[" * 100_000 + b"]" * 100_000), "32"),
    "nested-objects": (_bytes(b'{"a":' * 100_000 + b"1" + b"}" * 100_000), "32"),
    "nested-mixed": (_bytes(b'[{"a":' * 50_000 + b"1" + b"}]" * 50_000), "32"),
    "unclosed-nesting": (_bytes(b"[" * 100_000), "32"),
    "too-many-values": (_bytes(b"[" + b"0," * 30_000 + b"0]"), "20000"),
    "50mb": (_sparse_big, str(MAX_INPUT)),
    "missing-file": (_missing, "does-not-exist.json"),
    "directory": (_directory, "a-directory"),
}


@pytest.mark.parametrize("case", sorted(USAGE_ERRORS))
def test_unreadable_input_is_one_bilingual_line_and_exit_2(tmp_path: Path, case: str) -> None:
    build, needle = USAGE_ERRORS[case]
    path = build(tmp_path)
    for args in ([str(path)], [str(path), "--json"], [str(path), "--lang", "en"]):
        result = verify(*args)
        assert result.exit_code == 2, (case, args, result.output)
        assert result.stdout == ""
        assert_one_line_error(result.stderr, contains=[needle])


def test_large_input_on_standard_input_is_refused(big_file: Path) -> None:
    with big_file.open("rb") as handle:
        result = verify("-", stdin=handle.read(MAX_INPUT + 10))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=[str(MAX_INPUT)])


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"[1, 2]", "malformed"),
        (b"null", "malformed"),
        (b"{}", "unsupported_format"),
        (b'{"type": "Nothing"}', "unsupported_format"),
    ],
    ids=["array", "null", "empty-object", "neither"],
)
def test_json_that_is_not_a_credential_is_not_verified(
    tmp_path: Path, content: bytes, code: str
) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(content)
    exit_code, result = verify_json(str(path))
    assert exit_code == 1
    assert result["verified"] is False
    assert result["codes"] == [code]
    for lang, words in (("ja", JAPANESE), ("en", re.compile("not a JSON object|neither"))):
        human = verify(str(path), "--lang", lang)
        assert human.exit_code == 1
        assert human.stderr == ""
        failures = [line for line in human.stdout.splitlines() if f"[{code}]" in line]
        assert len(failures) == 1, human.stdout
        assert words.search(failures[0]), failures[0]


@pytest.mark.parametrize("inner", ["credential", "text"])
def test_json_string_is_not_a_credential(tmp_path: Path, inner: str) -> None:
    text = json.dumps(signed_credential()) if inner == "credential" else "a string"
    path = write_json(tmp_path / "input.json", text)
    exit_code, result = verify_json(str(path))
    assert exit_code == 1
    assert result["codes"] == ["malformed"]
    assert result["checks"][0]["message"]["en"].endswith("not a JSON object")


def test_unknown_context_is_refused_without_the_network(
    tmp_path: Path, network_attempts: list[str]
) -> None:
    credential = signed_credential()
    credential["@context"] = [*credential["@context"], "https://evil.example/context.jsonld"]
    path = write_json(tmp_path / "credential.json", credential)
    code, result = verify_json(str(path))
    assert code == 1
    assert result["codes"] == ["context_not_allowed"]
    check = next(c for c in result["checks"] if not c["ok"])
    assert "https://evil.example/context.jsonld" in check["message"]["en"]
    assert "https://evil.example/context.jsonld" in check["message"]["ja"]

    for lang, text in (("ja", "受け付けていません"), ("en", "not one this software accepts")):
        human = verify(str(path), "--lang", lang)
        lines = [line for line in human.stdout.splitlines() if "[context_not_allowed]" in line]
        assert len(lines) == 1
        assert text in lines[0]
    assert network_attempts == []


def test_unknown_context_in_a_presentation(tmp_path: Path, network_attempts: list[str]) -> None:
    presentation = copy.deepcopy(signed_presentation())
    presentation["@context"] = [*presentation["@context"], "https://evil.example/vp"]
    path = write_json(tmp_path / "presentation.json", presentation)
    code, result = verify_json(str(path), "--challenge", CHALLENGE)
    assert code == 1
    assert result["codes"] == ["context_not_allowed"]
    assert network_attempts == []


def test_did_web_issuer_without_its_document_is_not_fetched(
    demo_dir: Path, network_attempts: list[str]
) -> None:
    code, result = verify_json(str(demo_dir / "credential.json"))
    assert code == 1
    assert result["codes"] == ["verification_method_unresolved"]
    assert network_attempts == []


def test_huge_integer_is_an_error_line(tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(b"[" + b"1" * 5000 + b"]")
    result = verify(str(path))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr)


def test_date_at_the_end_of_time_is_not_a_traceback(tmp_path: Path) -> None:
    credential = generic_credential(key_did(ISSUER), validFrom="9999-12-31T24:00:00Z")
    path = write_json(tmp_path / "credential.json", credential)
    result = verify(str(path), "--json")
    assert result.exit_code == 1
    assert "malformed" in json.loads(result.stdout)["codes"]


def test_lone_surrogate_is_not_a_traceback(tmp_path: Path) -> None:
    credential = signed_credential()
    credential["issuer"] = {"id": credential["issuer"], "name": "X"}
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(credential).replace('"X"', '"\\ud800"'), encoding="utf-8")
    result = verify(str(path))
    # not Unicode text: unreadable input, refused before verification
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["surrogate"])


# --- the installed console script --------------------------------------------------------------


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def test_console_script_round_trip(tmp_path: Path, credential_file: Path) -> None:
    done = run_script(
        "furusato-verifier", "verify", "--any-issuer", str(credential_file), "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verified"] is True

    tampered = json.loads(credential_file.read_text("utf-8"))
    tampered["validFrom"] = "2025-01-01T00:00:00Z"
    done = run_script(
        "furusato-verifier",
        "verify",
        "--any-issuer",
        "-",
        cwd=tmp_path,
        stdin=json.dumps(tampered).encode(),
    )
    assert done.returncode == 1
    assert "[signature_invalid]" in done.stdout


def test_console_script_refuses_50_mb_in_bounded_memory(tmp_path: Path, big_file: Path) -> None:
    # The limit bites: parsing this file whole does not fit in it.
    whole = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; json.load(open(sys.argv[1], 'rb'))",
            str(big_file),
        ],
        preexec_fn=_limit_memory,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert whole.returncode != 0
    assert b"MemoryError" in whole.stderr

    for args, stdin_file in (([str(big_file)], None), (["-"], big_file)):
        done = run_script(
            "furusato-verifier",
            "verify",
            *args,
            cwd=tmp_path,
            stdin_file=stdin_file,
            preexec_fn=_limit_memory,
        )
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert_one_line_error(done.stderr, contains=[str(MAX_INPUT), "too large", "大きすぎます"])


@pytest.mark.parametrize(
    "case", ["garbage-bytes", "invalid-utf8", "nested-arrays", "nested-objects", "directory"]
)
def test_console_script_unreadable_input(tmp_path: Path, case: str) -> None:
    build, needle = USAGE_ERRORS[case]
    path = build(tmp_path)
    done = run_script(
        "furusato-verifier", "verify", str(path), cwd=tmp_path, preexec_fn=_limit_memory
    )
    assert done.returncode == 2
    assert_one_line_error(done.stderr, contains=[needle])


def test_console_script_unknown_context_offline(tmp_path: Path) -> None:
    credential = signed_credential()
    credential["@context"] = [*credential["@context"], "https://evil.example/context.jsonld"]
    path = write_json(tmp_path / "credential.json", credential)
    done = run_script(
        "furusato-verifier", "verify", "--any-issuer", str(path), "--json", cwd=tmp_path
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["codes"] == ["context_not_allowed"]


def test_console_script_usage_errors(tmp_path: Path, credential_file: Path) -> None:
    done = run_script(
        "furusato-verifier", "verify", str(credential_file), "--now", "garbage", cwd=tmp_path
    )
    assert done.returncode == 2
    assert_one_line_error(done.stderr, contains=["--now"])
