"""Secrets at rest: a private JWK (or any small secret) sealed with a passphrase.

The envelope is a JSON object::

    {"kdf": "scrypt", "n": 32768, "r": 8, "p": 1, "cipher": "A256GCM",
     "salt": "<base64url>", "nonce": "<base64url>", "ciphertext": "<base64url>"}

* key: scrypt (RFC 7914) of the secret (UTF-8, NFC-normalised — the same passphrase typed
  through different input methods gives the same key) with a 16-byte random salt, 32 bytes.
  Parameters n = 2**15, r = 8, p = 1: 32 MiB and roughly 0.1 s per attempt — twice the
  scrypt paper's interactive-login setting (n = 2**14), well below its file-encryption one
  (n = 2**20), and below OWASP's password-storage guidance (n = 2**17). The parameters are
  stored in each envelope, so raising :data:`SCRYPT_N` later keeps old envelopes readable;
* cipher: AES-256-GCM with a 12-byte random nonce; ``ciphertext`` includes the 16-byte tag;
  the associated data binds the KDF parameters, so they cannot be swapped unnoticed.

Opening refuses parameters weaker than n = 2**14, r = 8 (an attacker who can write the file
must not be able to make brute force cheaper for the next seal) and parameters so costly
that opening would exhaust the machine (memory 128·n·r above 256 MiB).

The issuer service uses this module for tenant keys, the registry tool for the authority
key, the wallet for its store.  Randomness is a parameter (``random_bytes``); the shells
pass ``secrets.token_bytes``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from did.errors import CryptographicSecurityError, FurusatoError, MalformedValueError
from did.multibase import base64url_decode, base64url_encode

__all__ = [
    "SCRYPT_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "SealedBoxError",
    "UnsafeSealParametersError",
    "WrongSecretError",
    "open_sealed",
    "seal",
]

KDF: Final = "scrypt"
CIPHER: Final = "A256GCM"
SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
MIN_SCRYPT_N: Final = 2**14
MAX_SCRYPT_N: Final = 2**20
MIN_SCRYPT_R: Final = 8
MAX_SCRYPT_R: Final = 32
MAX_SCRYPT_P: Final = 16
MAX_SCRYPT_MEMORY: Final = 256 * 1024 * 1024  # bytes: 128 * n * r
SALT_BYTES: Final = 16
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
MAX_PLAINTEXT_BYTES: Final = 64 * 1024
MAX_SECRET_CHARS: Final = 1024
_MEMBERS: Final = frozenset({"kdf", "n", "r", "p", "cipher", "salt", "nonce", "ciphertext"})


class SealedBoxError(MalformedValueError):
    """A sealed envelope that is not one (missing members, bad encodings)."""

    code = "sealed_malformed"
    title_en = "Malformed sealed secret"
    title_ja = "暗号化された秘密情報の形式が不正です"


class UnsafeSealParametersError(SealedBoxError):
    """KDF parameters too weak (or too costly) to accept."""

    code = "sealed_params_unsafe"
    title_en = "Unsafe key-derivation parameters"
    title_ja = "鍵導出のパラメーターが安全ではありません"


class WrongSecretError(CryptographicSecurityError):
    """Authentication failed: the secret is wrong, or the envelope was altered."""

    code = "wrong_secret"
    title_en = "Wrong secret"
    title_ja = "合言葉が違います"


def _bad(en: str, ja: str) -> SealedBoxError:
    return SealedBoxError(f"sealed secret: {en}", f"暗号化された秘密情報: {ja}")


def _secret_bytes(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise MalformedValueError(
            "the secret must be a non-empty string", "合言葉は空でない文字列でなければなりません"
        )
    if len(secret) > MAX_SECRET_CHARS:
        raise MalformedValueError(
            f"the secret is longer than {MAX_SECRET_CHARS} characters",
            f"合言葉が {MAX_SECRET_CHARS} 文字を超えています",
        )
    try:
        return unicodedata.normalize("NFC", secret).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedValueError(
            "the secret is not valid Unicode text", "合言葉が正しい Unicode 文字列ではありません"
        ) from None


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"'{name}' must be an integer", f"'{name}' は整数でなければなりません")
    return value


def _check_params(n_value: object, r_value: object, p_value: object) -> tuple[int, int, int]:
    n, r, p = _integer(n_value, "n"), _integer(r_value, "r"), _integer(p_value, "p")
    if n < MIN_SCRYPT_N or r < MIN_SCRYPT_R or p < 1:
        raise UnsafeSealParametersError(
            f"scrypt parameters n={n}, r={r}, p={p} are too weak "
            f"(at least n={MIN_SCRYPT_N}, r={MIN_SCRYPT_R}, p=1)",
            f"scrypt のパラメーター n={n}, r={r}, p={p} は弱すぎます "
            f"(n={MIN_SCRYPT_N}, r={MIN_SCRYPT_R}, p=1 以上が必要です)",
        )
    if n & (n - 1):
        raise _bad("scrypt n must be a power of two", "scrypt の n は2のべき乗でなければなりません")
    if n > MAX_SCRYPT_N or r > MAX_SCRYPT_R or p > MAX_SCRYPT_P or 128 * n * r > MAX_SCRYPT_MEMORY:
        raise UnsafeSealParametersError(
            f"scrypt parameters n={n}, r={r}, p={p} are too costly to accept",
            f"scrypt のパラメーター n={n}, r={r}, p={p} は負荷が大きすぎるため受け付けません",
        )
    return n, r, p


def _aad(n: int, r: int, p: int) -> bytes:
    return f"furusato-secretbox/1 {KDF} n={n} r={r} p={p} {CIPHER}".encode("ascii")


def _derive(secret: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(secret)


def seal(
    plaintext: bytes,
    secret: str,
    *,
    random_bytes: Callable[[int], bytes],
    n: int = SCRYPT_N,
    r: int = SCRYPT_R,
    p: int = SCRYPT_P,
) -> dict[str, Any]:
    """Encrypt ``plaintext`` under ``secret``; returns the JSON envelope (module docstring)."""
    if not isinstance(plaintext, bytes | bytearray | memoryview):
        raise MalformedValueError("plaintext must be bytes", "平文はバイト列でなければなりません")
    plaintext = bytes(plaintext)
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise MalformedValueError(
            f"plaintext longer than {MAX_PLAINTEXT_BYTES} bytes",
            f"平文が {MAX_PLAINTEXT_BYTES} バイトを超えています",
        )
    n, r, p = _check_params(n, r, p)
    key_material = _secret_bytes(secret)
    salt = random_bytes(SALT_BYTES)
    nonce = random_bytes(NONCE_BYTES)
    if (
        not isinstance(salt, bytes)
        or len(salt) != SALT_BYTES
        or not isinstance(nonce, bytes)
        or len(nonce) != NONCE_BYTES
    ):
        raise MalformedValueError(
            "random source returned the wrong number of bytes",
            "乱数源が返したバイト数が不正です",
        )
    key = _derive(key_material, salt, n, r, p)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _aad(n, r, p))
    return {
        "kdf": KDF,
        "n": n,
        "r": r,
        "p": p,
        "cipher": CIPHER,
        "salt": base64url_encode(salt),
        "nonce": base64url_encode(nonce),
        "ciphertext": base64url_encode(ciphertext),
    }


def _field(envelope: Mapping[str, Any], name: str, *, min_len: int, max_len: int) -> bytes:
    value = envelope.get(name)
    if not isinstance(value, str):
        raise _bad(f"'{name}' missing or not a string", f"'{name}' がないか文字列ではありません")
    try:
        data = base64url_decode(value, max_length=(max_len * 4) // 3 + 4)
    except FurusatoError:
        raise _bad(
            f"'{name}' is not strict base64url", f"'{name}' が base64url ではありません"
        ) from None
    if not min_len <= len(data) <= max_len:
        raise _bad(f"'{name}' has a wrong length", f"'{name}' の長さが不正です")
    return data


def open_sealed(envelope: Mapping[str, Any], secret: str) -> bytes:
    """The plaintext of an envelope made by :func:`seal`.

    Raises :class:`WrongSecretError` (code ``wrong_secret``) when the secret is wrong or the
    envelope was altered (AES-GCM cannot tell them apart), :class:`UnsafeSealParametersError`
    for KDF parameters outside the accepted range, :class:`SealedBoxError` otherwise.
    """
    if not isinstance(envelope, Mapping):
        raise _bad("expected a JSON object", "JSON オブジェクトが必要です")
    unknown = sorted(str(k) for k in envelope if k not in _MEMBERS)
    if unknown:
        raise _bad(f"unknown member {unknown[0][:40]!r}", f"不明なメンバー {unknown[0][:40]!r}")
    if envelope.get("kdf") != KDF:
        raise _bad(f"'kdf' must be {KDF!r}", f"'kdf' は {KDF!r} でなければなりません")
    if envelope.get("cipher") != CIPHER:
        raise _bad(f"'cipher' must be {CIPHER!r}", f"'cipher' は {CIPHER!r} でなければなりません")
    n, r, p = _check_params(envelope.get("n"), envelope.get("r"), envelope.get("p"))
    salt = _field(envelope, "salt", min_len=SALT_BYTES, max_len=64)
    nonce = _field(envelope, "nonce", min_len=NONCE_BYTES, max_len=NONCE_BYTES)
    ciphertext = _field(
        envelope, "ciphertext", min_len=TAG_BYTES, max_len=MAX_PLAINTEXT_BYTES + TAG_BYTES
    )
    key = _derive(_secret_bytes(secret), salt, n, r, p)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, _aad(n, r, p))
    except InvalidTag:
        raise WrongSecretError(
            "cannot open the sealed secret: the secret is wrong or the file was altered",
            "暗号化された秘密情報を開けません: 合言葉が違うか、ファイルが改ざんされています",
        ) from None
