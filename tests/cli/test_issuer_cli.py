"""``furusato-issuer``: keygen, sign, demo — in-process with CliRunner, and through the
installed console script.

Exit codes (STYLE.md 13): 0 ok, 1 failed, 2 usage or unreadable input.  Every error is one
line, Japanese then English, on stderr (tests/cli/helpers.py: assert_one_line_error).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from did.keys import KeyType, PrivateKey
from did.multibase import base58btc_encode
from issuer.cli import MAX_KEY_FILE_BYTES
from issuer.cli import main as issuer_main
from tests.cli.helpers import (
    OTHER_SEED,
    SEED,
    assert_one_line_error,
    generic_credential,
    invoke,
    key_did,
    key_vm,
    run_script,
    seeded_key,
    write_json,
    write_key,
)
from verifier.cli import main as verifier_main
from wallet_cli.cli import main as wallet_main

KEY_TYPES = [KeyType.ED25519, KeyType.P256]
SUITE_OF = {KeyType.ED25519: "eddsa-rdfc-2022", KeyType.P256: "ecdsa-rdfc-2019"}
KANA = re.compile(r"[\u3040-\u30ff]")  # hiragana and katakana: Japanese sentences


def independent_did_key(key_type: KeyType, seed: bytes) -> str:
    """did:key of ``seed`` derived with cryptography and the multicodec table (CID 1.0 §2.4),
    not with did.keys: an independent check of what keygen prints."""
    if key_type is KeyType.ED25519:
        raw = (
            ed25519.Ed25519PrivateKey.from_private_bytes(seed)
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        header = b"\xed\x01"  # ed25519-pub, varint 0xed
    else:
        raw = (
            ec.derive_private_key(int.from_bytes(seed, "big"), ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        )
        header = b"\x80\x24"  # p256-pub, varint 0x1200
    return "did:key:z" + base58btc_encode(header + raw)


def sign(tmp_path: Path, key_file: Path, credential: Any, *options: str) -> tuple[int, str, str]:
    source = write_json(tmp_path / "credential.json", credential)
    result = invoke(issuer_main, ["sign", "--key", str(key_file), *options, str(source)])
    return result.exit_code, result.stdout, result.stderr


# --- keygen ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_keygen_prints_a_private_jwk_that_parses_back(key_type: KeyType) -> None:
    result = invoke(issuer_main, ["keygen", "--type", key_type.value])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    jwk = json.loads(result.stdout)
    key = PrivateKey.from_jwk(jwk)
    assert key.key_type is key_type
    assert "d" in jwk
    assert jwk["kid"] == key_vm(key)


def test_keygen_defaults_to_ed25519_and_is_random() -> None:
    first = invoke(issuer_main, ["keygen"])
    second = invoke(issuer_main, ["keygen"])
    assert first.exit_code == second.exit_code == 0
    one, two = (PrivateKey.from_jwk(json.loads(r.stdout)) for r in (first, second))
    assert one.key_type is KeyType.ED25519
    assert one != two


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_keygen_seed_is_deterministic(key_type: KeyType) -> None:
    args = ["keygen", "--type", key_type.value, "--seed", SEED.hex()]
    first, second = invoke(issuer_main, args), invoke(issuer_main, args)
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout
    jwk = json.loads(first.stdout)
    expected = PrivateKey.from_seed(key_type, SEED)
    assert PrivateKey.from_jwk(jwk) == expected
    did = independent_did_key(key_type, SEED)
    assert key_did(expected) == did
    assert jwk["kid"] == f"{did}#{did.removeprefix('did:key:')}"


def test_keygen_different_seeds_give_different_keys() -> None:
    one = invoke(issuer_main, ["keygen", "--seed", SEED.hex()])
    two = invoke(issuer_main, ["keygen", "--seed", OTHER_SEED.hex()])
    assert json.loads(one.stdout)["kid"] != json.loads(two.stdout)["kid"]


@pytest.mark.parametrize("seed", ["zz", "0g" * 32, "abc", "00-01", "０１" * 16])
def test_keygen_seed_not_hex_is_a_usage_error(seed: str) -> None:
    result = invoke(issuer_main, ["keygen", "--seed", seed])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=["--seed"])


@pytest.mark.parametrize(
    ("key_type", "seed"),
    [
        (KeyType.ED25519, b""),
        (KeyType.ED25519, bytes(31)),
        (KeyType.ED25519, bytes(33)),
        (KeyType.P256, bytes(range(16))),
        (KeyType.P256, bytes(range(48))),
        (KeyType.P256, bytes(32)),  # scalar 0
        (KeyType.P256, b"\xff" * 32),  # scalar ≥ n
    ],
    ids=["ed-empty", "ed-31", "ed-33", "p256-16", "p256-48", "p256-zero", "p256-over-n"],
)
def test_keygen_seed_of_wrong_length_or_range_is_a_usage_error(
    key_type: KeyType, seed: bytes
) -> None:
    result = invoke(issuer_main, ["keygen", "--type", key_type.value, "--seed", seed.hex()])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=[key_type.value])


# --- sign --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_sign_then_verify_round_trip(tmp_path: Path, key_type: KeyType) -> None:
    key = seeded_key(key_type)
    key_file = write_key(tmp_path / "issuer.jwk", key)
    credential = generic_credential(key_did(key))
    code, out, err = sign(tmp_path, key_file, credential)
    assert code == 0, err
    assert err == ""
    signed = json.loads(out)
    assert {k: v for k, v in signed.items() if k != "proof"} == credential
    proof = signed["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == SUITE_OF[key_type]
    assert proof["verificationMethod"] == key_vm(key)
    assert proof["proofPurpose"] == "assertionMethod"

    path = write_json(tmp_path / "signed.json", signed)
    verified = invoke(verifier_main, ["verify", "--any-issuer", str(path), "--json"])
    assert verified.exit_code == 0, verified.output
    result = json.loads(verified.stdout)
    assert result["verified"] is True
    assert result["codes"] == []


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_sign_with_the_suite_named_explicitly(tmp_path: Path, key_type: KeyType) -> None:
    key = seeded_key(key_type)
    key_file = write_key(tmp_path / "issuer.jwk", key)
    code, out, err = sign(
        tmp_path, key_file, generic_credential(key_did(key)), "--suite", SUITE_OF[key_type]
    )
    assert code == 0, err
    assert json.loads(out)["proof"]["cryptosuite"] == SUITE_OF[key_type]


def test_sign_reads_standard_input_and_takes_created(tmp_path: Path, ed_key_file: Path) -> None:
    key = seeded_key(KeyType.ED25519)
    credential = generic_credential(key_did(key))
    result = invoke(
        issuer_main,
        ["sign", "--key", str(ed_key_file), "--created", "2026-02-01T09:30:00+09:00", "-"],
        stdin=json.dumps(credential),
    )
    assert result.exit_code == 0, result.output
    signed = json.loads(result.stdout)
    assert signed["proof"]["created"] == "2026-02-01T00:30:00Z"  # normalised to UTC
    verified = invoke(verifier_main, ["verify", "--any-issuer", "-"], stdin=result.stdout)
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize("created", ["garbage", "2026-02-01", "2026-02-01T00:00:00", ""])
def test_sign_bad_created_is_a_usage_error(tmp_path: Path, ed_key_file: Path, created: str) -> None:
    credential = generic_credential(key_did(seeded_key(KeyType.ED25519)))
    code, out, err = sign(tmp_path, ed_key_file, credential, "--created", created)
    assert code == 2
    assert out == ""
    assert_one_line_error(err, contains=["--created"])


def test_sign_with_another_keys_verification_method_is_an_issuer_mismatch(
    tmp_path: Path, ed_key_file: Path
) -> None:
    other = seeded_key(KeyType.P256, OTHER_SEED)
    credential = generic_credential(key_did(seeded_key(KeyType.ED25519)))
    code, out, err = sign(tmp_path, ed_key_file, credential, "--verification-method", key_vm(other))
    assert code == 1
    assert out == ""
    line = assert_one_line_error(err, contains=["発行者", "issuer"])
    assert key_did(other)[:60] in line


def test_sign_refuses_a_did_key_method_that_is_not_the_signing_key(
    tmp_path: Path, ed_key_file: Path
) -> None:
    other = seeded_key(KeyType.ED25519, OTHER_SEED)
    credential = generic_credential(key_did(other))  # issuer = the method's controller
    code, out, _ = sign(tmp_path, ed_key_file, credential, "--verification-method", key_vm(other))
    if code == 0:  # what it does today: issue a credential our verifier refuses
        path = write_json(tmp_path / "signed.json", json.loads(out))
        verified = invoke(verifier_main, ["verify", "--any-issuer", str(path), "--json"])
        assert json.loads(verified.stdout)["codes"] == ["signature_invalid"]
    assert code in (1, 2)


@pytest.mark.parametrize(
    ("key_type", "suite"),
    [(KeyType.ED25519, "ecdsa-rdfc-2019"), (KeyType.P256, "eddsa-rdfc-2022")],
)
def test_sign_suite_that_cannot_use_the_key_is_a_usage_error(
    tmp_path: Path, key_type: KeyType, suite: str
) -> None:
    key = seeded_key(key_type)
    key_file = write_key(tmp_path / "issuer.jwk", key)
    code, out, err = sign(tmp_path, key_file, generic_credential(key_did(key)), "--suite", suite)
    assert code == 2
    assert out == ""
    assert_one_line_error(err, contains=[suite, key_type.value])


def _key_file_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name → (key file, text the error line must contain)."""
    good = seeded_key(KeyType.ED25519).to_jwk(include_private=True)
    public_only = {k: v for k, v in good.items() if k != "d"}
    wrong_d = {**good, "d": seeded_key(KeyType.ED25519, OTHER_SEED).to_jwk()["d"]}
    (tmp_path / "dir.jwk").mkdir()
    (tmp_path / "garbage.jwk").write_bytes(bytes(range(256)))
    (tmp_path / "huge.jwk").write_bytes(b" " * (MAX_KEY_FILE_BYTES + 1))
    (tmp_path / "empty.jwk").write_bytes(b"")
    return {
        "missing": (tmp_path / "missing.jwk", "missing.jwk"),
        "directory": (tmp_path / "dir.jwk", "dir.jwk"),
        "garbage": (tmp_path / "garbage.jwk", "UTF-8"),
        "empty": (tmp_path / "empty.jwk", "JSON"),
        "too-large": (tmp_path / "huge.jwk", str(MAX_KEY_FILE_BYTES)),
        "array": (write_json(tmp_path / "array.jwk", [good]), "JWK"),
        "public-only": (write_json(tmp_path / "public.jwk", public_only), "'d'"),
        "d-mismatch": (write_json(tmp_path / "wrong-d.jwk", wrong_d), "'d'"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "directory",
        "garbage",
        "empty",
        "too-large",
        "array",
        "public-only",
        "d-mismatch",
    ],
)
def test_sign_unreadable_key_file_is_a_usage_error(tmp_path: Path, case: str) -> None:
    key_file, needle = _key_file_cases(tmp_path)[case]
    credential = generic_credential(key_did(seeded_key(KeyType.ED25519)))
    code, out, err = sign(tmp_path, key_file, credential)
    assert code == 2
    assert out == ""
    assert_one_line_error(err, contains=[needle])


def test_sign_credential_with_an_undefined_term_fails(tmp_path: Path, ed_key_file: Path) -> None:
    credential = generic_credential(key_did(seeded_key(KeyType.ED25519)))
    credential["credentialSubject"]["favouriteColour"] = "blue"
    code, out, err = sign(tmp_path, ed_key_file, credential)
    assert code == 1
    assert out == ""
    assert_one_line_error(err, contains=["favouriteColour", "not defined", "定義されていない"])


def test_sign_error_names_the_stable_code(tmp_path: Path, ed_key_file: Path) -> None:
    credential = generic_credential(key_did(seeded_key(KeyType.ED25519)))
    credential["credentialSubject"]["favouriteColour"] = "blue"
    _, _, err = sign(tmp_path, ed_key_file, credential)
    assert "undefined_term" in err


@pytest.mark.parametrize(
    ("content", "code", "needle"),
    [
        (b"not json", 2, "JSON"),
        (b"\xff\xfe{}", 2, "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, 2, "32"),
        (b"[1, 2]", 1, "JSON"),
        (b"{}", 1, "@context"),
    ],
    ids=["not-json", "not-utf8", "deep", "array", "empty-object"],
)
def test_sign_bad_credential_input(
    tmp_path: Path, ed_key_file: Path, content: bytes, code: int, needle: str
) -> None:
    source = tmp_path / "credential.json"
    source.write_bytes(content)
    result = invoke(issuer_main, ["sign", "--key", str(ed_key_file), str(source)])
    assert result.exit_code == code
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=[needle])


def test_sign_refuses_a_large_credential_without_reading_it(
    tmp_path: Path, ed_key_file: Path
) -> None:
    source = tmp_path / "big.json"
    with source.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB of zero bytes
    result = invoke(issuer_main, ["sign", "--key", str(ed_key_file), str(source)])
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=[str(1024 * 1024)])


def test_sign_never_prints_invalid_json(tmp_path: Path, ed_key_file: Path) -> None:
    source = tmp_path / "credential.json"
    issuer = key_did(seeded_key(KeyType.ED25519))
    source.write_text(
        json.dumps(generic_credential(issuer)).replace('"Alice"', "1e400"), encoding="utf-8"
    )
    result = invoke(issuer_main, ["sign", "--key", str(ed_key_file), str(source)])
    if result.exit_code == 0:
        json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} printed"))
    else:
        assert_one_line_error(result.stderr)


def test_sign_lone_surrogate_is_an_error_line(tmp_path: Path, ed_key_file: Path) -> None:
    source = tmp_path / "credential.json"
    issuer = key_did(seeded_key(KeyType.ED25519))
    source.write_text(
        json.dumps(generic_credential(issuer)).replace('"Alice"', '"\\ud800"'), encoding="utf-8"
    )
    result = invoke(issuer_main, ["sign", "--key", str(ed_key_file), str(source)])
    assert result.exit_code in (1, 2)
    assert_one_line_error(result.stderr)


def test_usage_errors_are_one_bilingual_line() -> None:
    result = invoke(issuer_main, ["sign", "credential.json"])  # --key missing
    assert result.exit_code == 2
    assert_one_line_error(result.stderr)


# --- demo --------------------------------------------------------------------------------------


def test_demo_writes_its_files_and_ends_as_expected(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = invoke(issuer_main, ["demo", "--core", "--lang", "both", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    names = {p.name for p in out.iterdir()}
    assert {
        "did.json",
        "credential.json",
        "presentation.json",
        "status-revocation.json",
        "status-suspension.json",
    } <= names
    for name in names:
        json.loads((out / name).read_text("utf-8"))
    assert "実演は期待どおりに終わりました。" in result.stdout
    assert "The demo ended as expected." in result.stdout
    assert "[signature_invalid]" in result.stdout  # step 6: the altered copy
    assert "[revoked]" in result.stdout  # step 7


def _step_headers(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.match(r"\[\d\] ", line)]


def test_demo_in_japanese_only() -> None:
    result = invoke(issuer_main, ["demo", "--core", "--lang", "ja"])
    assert result.exit_code == 0, result.output
    headers = _step_headers(result.stdout)
    assert [h[:3] for h in headers] == [f"[{i}]" for i in range(1, 8)]
    assert all(KANA.search(h) for h in headers), headers
    for english in ("Verifying the credential", "The demo ended", "NOT verified", "revoked ["):
        assert english not in result.stdout
    assert "証明書を検証します" in result.stdout
    assert "検証できません" in result.stdout


def test_demo_in_english_only() -> None:
    result = invoke(issuer_main, ["demo", "--core", "--lang", "en"])
    assert result.exit_code == 0, result.output
    headers = _step_headers(result.stdout)
    assert [h[:3] for h in headers] == [f"[{i}]" for i in range(1, 8)]
    # Place names stay in kanji (厚真町); no sentence in kana.
    assert not any(KANA.search(h) for h in headers), headers
    for japanese in ("証明書を検証します", "実演は", "検証できません", "失効しています"):
        assert japanese not in result.stdout
    assert "Verifying the credential (offline)" in result.stdout
    assert "The demo ended as expected." in result.stdout


# --- the installed console script --------------------------------------------------------------


def test_console_script_keygen_and_sign(tmp_path: Path) -> None:
    keygen = run_script("furusato-issuer", "keygen", "--seed", SEED.hex(), cwd=tmp_path)
    assert keygen.returncode == 0, keygen.stderr
    jwk = json.loads(keygen.stdout)
    key = PrivateKey.from_jwk(jwk)
    assert key == seeded_key(KeyType.ED25519)
    (tmp_path / "issuer.jwk").write_text(keygen.stdout, encoding="utf-8")

    credential = json.dumps(generic_credential(key_did(key))).encode()
    signed = run_script(
        "furusato-issuer",
        "sign",
        "--key",
        "issuer.jwk",
        "--created",
        "2026-01-02T00:00:00Z",
        "-",
        cwd=tmp_path,
        stdin=credential,
    )
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["proof"]["created"] == "2026-01-02T00:00:00Z"


def test_console_script_errors_are_one_line(tmp_path: Path) -> None:
    done = run_script("furusato-issuer", "keygen", "--seed", "nothex", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert_one_line_error(done.stderr, contains=["--seed"])


def test_console_script_demo(tmp_path: Path) -> None:
    done = run_script(
        "furusato-issuer", "demo", "--core", "--out", "files", "--lang", "en", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "files" / "credential.json").is_file()
    assert "The demo ended as expected." in done.stdout


# --- furusato-wallet ---------------------------------------------------------------------------


def test_wallet_help_is_bilingual() -> None:
    result = invoke(wallet_main, ["--help"])
    assert result.exit_code == 0
    assert "証明書" in result.stdout
    assert "credentials" in result.stdout


def test_wallet_console_script_help(tmp_path: Path) -> None:
    done = run_script("furusato-wallet", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert KANA.search(done.stdout)
    assert "Receive, keep and present" in done.stdout
