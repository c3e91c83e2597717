"""Public and private keys: Ed25519, P-256, P-384 as raw bytes, JWK and Multikey.

- Multikey encodings: CID 1.0 §2.4 (``publicKeyMultibase`` / ``secretKeyMultibase``).
- JWK: RFC 7517, RFC 7518 §6.2 (EC), RFC 8037 §2 (OKP/Ed25519); thumbprint RFC 7638.
- Signatures: Ed25519 pure EdDSA (RFC 8032 §5.1); ECDSA with SHA-256/SHA-384, IEEE P1363
  ``r||s`` (vc-di-ecdsa §3.3, RFC 7518 §3.4), deterministic k (RFC 6979) when signing.

The core draws no randomness of its own: :func:`generate_private_key` takes a byte source.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from did.errors import (
    InvalidSignatureError,
    KeyFormatError,
    MalformedValueError,
    UnsupportedError,
)
from did.multibase import (
    base64url_decode,
    base64url_encode,
    multibase_decode,
    multibase_encode,
    varint_decode,
    varint_encode,
)

__all__ = [
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "Signer",
    "generate_private_key",
]


class KeyType(StrEnum):
    """The key types we accept (JWK ``crv`` names)."""

    ED25519 = "Ed25519"
    P256 = "P-256"
    P384 = "P-384"


@dataclass(frozen=True)
class _Params:
    alg: str
    public_codec: int
    secret_codec: int
    public_length: int  # raw public key (Ed25519) or compressed SEC1 point (EC)
    secret_length: int  # Ed25519 seed or EC scalar, big-endian, curve size
    curve: ec.EllipticCurve | None = None
    order: int = 0
    field_prime: int = 0


_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_P384_N = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)
_P384_P = 2**384 - 2**128 - 2**96 + 2**32 - 1

# CID 1.0 §2.4 Multikey header table.
_PARAMS: Final[dict[KeyType, _Params]] = {
    KeyType.ED25519: _Params("EdDSA", 0xED, 0x1300, 32, 32),
    KeyType.P256: _Params("ES256", 0x1200, 0x1306, 33, 32, ec.SECP256R1(), _P256_N, _P256_P),
    KeyType.P384: _Params("ES384", 0x1201, 0x1307, 49, 48, ec.SECP384R1(), _P384_N, _P384_P),
}
_BY_PUBLIC_CODEC = {p.public_codec: t for t, p in _PARAMS.items()}
_BY_SECRET_CODEC = {p.secret_codec: t for t, p in _PARAMS.items()}
# "alg" values a JWK may carry per key type ("Ed25519": the fully-specified JOSE name).
_JWK_ALGS = {
    KeyType.ED25519: {"EdDSA", "Ed25519"},
    KeyType.P256: {"ES256"},
    KeyType.P384: {"ES384"},
}
# Members of the JWK "Private" parameter information class (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_MAX_KEY_TEXT = 256  # characters; the longest key here (P-384 JWK "x") has 64


def _hash_for(key_type: KeyType) -> hashes.HashAlgorithm:
    return hashes.SHA384() if key_type is KeyType.P384 else hashes.SHA256()


# --- Ed25519 point validation (RFC 8032 §5.1.3) -----------------------------------------------

_ED_P = 2**255 - 19
_ED_D = (-121665 * pow(121666, -1, _ED_P)) % _ED_P
_ED_SQRT_M1 = pow(2, (_ED_P - 1) // 4, _ED_P)


def _ed25519_point(raw: bytes) -> tuple[int, int] | None:
    """Decode an Ed25519 point (RFC 8032 §5.1.3); ``None`` if not a canonical curve point."""
    y = int.from_bytes(raw, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _ED_P:
        return None
    u = (y * y - 1) % _ED_P
    v = (_ED_D * y * y + 1) % _ED_P
    x = (u * pow(v, 3, _ED_P) * pow(u * pow(v, 7, _ED_P), (_ED_P - 5) // 8, _ED_P)) % _ED_P
    vx2 = (v * x * x) % _ED_P
    if vx2 == (-u) % _ED_P:
        x = (x * _ED_SQRT_M1) % _ED_P
    elif vx2 != u:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _ED_P - x
    return x, y


def _ed25519_small_order(x: int, y: int) -> bool:
    """True if 8·P is the neutral element (P has order 1, 2, 4 or 8)."""
    px, py, pz = x, y, 1
    for _ in range(3):  # doubling in projective coordinates, a = -1 ("dbl-2008-bbjlp")
        b = (px + py) ** 2 % _ED_P
        c = px * px % _ED_P
        d = py * py % _ED_P
        e = -c % _ED_P
        f = (e + d) % _ED_P
        h = pz * pz % _ED_P
        j = (f - 2 * h) % _ED_P
        px, py, pz = (b - c - d) * j % _ED_P, f * (e - d) % _ED_P, f * j % _ED_P
    return px == 0 and py == pz


# --- helpers ----------------------------------------------------------------------------------


def _key_error(en: str, ja: str) -> KeyFormatError:
    return KeyFormatError(en, ja)


def _b64_member(jwk: Mapping[str, object], name: str, length: int) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise _key_error(
            f"JWK: member {name!r} missing or not a string",
            f"JWK: メンバー {name!r} がないか文字列ではありません",
        )
    try:
        data = base64url_decode(value, max_length=_MAX_KEY_TEXT)
    except MalformedValueError as exc:
        raise _key_error(
            f"JWK: member {name!r} is not strict base64url: {exc.message_en}",
            f"JWK: メンバー {name!r} が厳密な base64url ではありません",
        ) from exc
    if len(data) != length:
        raise _key_error(
            f"JWK: member {name!r} must be {length} bytes, got {len(data)}",
            f"JWK: メンバー {name!r} は {length} バイトでなければなりません ({len(data)} バイト)",
        )
    return data


def _jwk_key_type(jwk: Mapping[str, object]) -> KeyType:
    kty = jwk.get("kty")
    crv = jwk.get("crv")
    if not isinstance(kty, str):
        raise _key_error(
            "JWK: 'kty' missing or not a string", "JWK: 'kty' がないか文字列ではありません"
        )
    if kty == "OKP" and crv == "Ed25519":
        key_type = KeyType.ED25519
    elif kty == "EC" and crv == "P-256":
        key_type = KeyType.P256
    elif kty == "EC" and crv == "P-384":
        key_type = KeyType.P384
    elif kty in ("OKP", "EC") and not isinstance(crv, str):
        raise _key_error(
            "JWK: 'crv' missing or not a string", "JWK: 'crv' がないか文字列ではありません"
        )
    else:
        raise UnsupportedError(
            f"JWK: unsupported key type kty={kty!r} crv={crv!r} (Ed25519, P-256, P-384 only)",
            f"JWK: 対応していない鍵種別です kty={kty!r} crv={crv!r} (Ed25519・P-256・P-384 のみ)",
        )
    alg = jwk.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in _JWK_ALGS[key_type]):
        raise _key_error(
            f"JWK: 'alg' {alg!r} does not match curve {key_type.value}",
            f"JWK: 'alg' {alg!r} が曲線 {key_type.value} と一致しません",
        )
    return key_type


def _public_from_jwk(jwk: Mapping[str, object], *, allow_private: bool) -> PublicKey:
    if not isinstance(jwk, Mapping):
        raise _key_error(
            "JWK must be a JSON object", "JWK は JSON オブジェクトでなければなりません"
        )
    private = [name for name in _PRIVATE_MEMBERS if name in jwk]
    if private and not allow_private:
        raise _key_error(
            f"JWK: a private key (member {private[0]!r}) where a public key is expected",
            f"JWK: 公開鍵が必要な箇所に秘密鍵 (メンバー {private[0]!r}) があります",
        )
    key_type = _jwk_key_type(jwk)
    params = _PARAMS[key_type]
    if key_type is KeyType.ED25519:
        return PublicKey(key_type, _b64_member(jwk, "x", 32))
    size = params.secret_length
    x = int.from_bytes(_b64_member(jwk, "x", size), "big")
    y = int.from_bytes(_b64_member(jwk, "y", size), "big")
    if x >= params.field_prime or y >= params.field_prime:
        raise _key_error("JWK: coordinate out of range", "JWK: 座標が範囲外です")
    assert params.curve is not None
    try:
        point = ec.EllipticCurvePublicNumbers(x, y, params.curve).public_key()
    except ValueError as exc:
        raise _key_error(
            f"JWK: point is not on {key_type.value}",
            f"JWK: 点が {key_type.value} 曲線上にありません",
        ) from exc
    return PublicKey(key_type, point.public_bytes(Encoding.X962, PublicFormat.CompressedPoint))


def _decode_multikey(text: str, what: str) -> tuple[int, bytes]:
    if not isinstance(text, str) or not text.startswith("z"):
        raise _key_error(
            f"{what}: must be a base58btc multibase string starting with 'z'",
            f"{what}: 'z' で始まる base58btc マルチベース文字列でなければなりません",
        )
    try:
        data = multibase_decode(text, max_length=_MAX_KEY_TEXT)
        codec, used = varint_decode(data)
    except MalformedValueError as exc:
        raise _key_error(f"{what}: {exc.message_en}", f"{what}: {exc.message_ja}") from exc
    return codec, data[used:]


def check_public_multikey(text: str, what: str = "publicKeyMultibase") -> KeyType:
    """The key type of a public-key multikey, checked for its shape only: a public-key codec,
    the key type's length and the canonical encoding.  The curve point itself is checked when
    a :class:`PublicKey` is made from it (``from_multikey``): for Ed25519 that is a point
    decompression in pure Python (~0.1–0.2 ms), which a list of 1,741 keys of which one is used
    need not pay for every key.  Raises like ``from_multikey``."""
    codec, raw = _decode_multikey(text, what)
    key_type = _BY_PUBLIC_CODEC.get(codec)
    if key_type is None:
        if codec in _BY_SECRET_CODEC:
            raise _key_error(f"{what} holds a secret key", f"{what} に秘密鍵が含まれています")
        raise UnsupportedError(
            f"{what}: unsupported multicodec 0x{codec:x}",
            f"{what}: 対応していない multicodec 0x{codec:x} です",
        )
    length = _PARAMS[key_type].public_length
    if len(raw) != length:
        raise _key_error(
            f"{key_type.value} public key must be {length} bytes, got {len(raw)}",
            f"{key_type.value} 公開鍵は {length} バイトでなければなりません ({len(raw)} バイト)",
        )
    # base58btc decoding is one-to-one, so the only other spelling of the same key would be a
    # varint codec in more bytes than it needs: the decoding rejects those (did.multibase)
    return key_type


# --- public keys ------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class PublicKey:
    """A validated public key: Ed25519 (32 raw bytes) or P-256/P-384 (SEC1 compressed point)."""

    key_type: KeyType
    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.key_type, KeyType):
            try:
                object.__setattr__(self, "key_type", KeyType(self.key_type))
            except ValueError as exc:
                raise UnsupportedError(
                    f"unsupported key type {self.key_type!r}",
                    f"対応していない鍵種別です {self.key_type!r}",
                ) from exc
        if not isinstance(self.raw, bytes | bytearray | memoryview):
            raise _key_error("public key must be bytes", "公開鍵はバイト列でなければなりません")
        raw = bytes(self.raw)
        object.__setattr__(self, "raw", raw)
        params = _PARAMS[self.key_type]
        if len(raw) != params.public_length:
            raise _key_error(
                f"{self.key_type.value} public key must be {params.public_length} bytes, "
                f"got {len(raw)}",
                f"{self.key_type.value} 公開鍵は {params.public_length} バイトでなければなりません "
                f"({len(raw)} バイト)",
            )
        if self.key_type is KeyType.ED25519:
            point = _ed25519_point(raw)
            if point is None:
                raise _key_error(
                    "Ed25519 public key is not a valid curve point",
                    "Ed25519 公開鍵が曲線上の正しい点ではありません",
                )
            if _ed25519_small_order(*point):
                raise _key_error(
                    "Ed25519 public key has small order (weak key)",
                    "Ed25519 公開鍵の位数が小さすぎます (弱い鍵)",
                )
        else:
            if raw[0] not in (2, 3):
                raise _key_error(
                    "EC public key must be a compressed SEC1 point (0x02/0x03 prefix)",
                    "EC 公開鍵は圧縮形式の SEC1 点 (先頭 0x02/0x03) でなければなりません",
                )
            assert params.curve is not None
            if int.from_bytes(raw[1:], "big") >= params.field_prime:
                raise _key_error(
                    "EC public key: x coordinate out of range", "EC 公開鍵: x 座標が範囲外です"
                )
            try:
                ec.EllipticCurvePublicKey.from_encoded_point(params.curve, raw)
            except ValueError as exc:
                raise _key_error(
                    f"public key is not a point on {self.key_type.value}",
                    f"公開鍵が {self.key_type.value} 曲線上の点ではありません",
                ) from exc

    def __repr__(self) -> str:
        return f"PublicKey({self.key_type.value}, {self.multikey})"

    # constructors

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, object]) -> PublicKey:
        """From a public JWK (RFC 8037 §2 OKP/Ed25519; RFC 7518 §6.2.1 EC P-256/P-384).

        A JWK carrying the private member ``d`` is rejected (:class:`KeyFormatError`); other
        key types are :class:`UnsupportedError`. Coordinates must be strict base64url of
        exactly the curve size.
        """
        return _public_from_jwk(jwk, allow_private=False)

    @classmethod
    def from_multikey(cls, text: str) -> PublicKey:
        """From ``publicKeyMultibase`` (CID 1.0 §2.4): ``z`` + base58btc(varint codec || key)."""
        codec, raw = _decode_multikey(text, "publicKeyMultibase")
        key_type = _BY_PUBLIC_CODEC.get(codec)
        if key_type is None:
            if codec in _BY_SECRET_CODEC:
                raise _key_error(
                    "publicKeyMultibase holds a secret key",
                    "publicKeyMultibase に秘密鍵が含まれています",
                )
            raise UnsupportedError(
                f"publicKeyMultibase: unsupported multicodec 0x{codec:x}",
                f"publicKeyMultibase: 対応していない multicodec 0x{codec:x} です",
            )
        return cls(key_type, raw)

    @classmethod
    def from_cryptography(cls, key: object) -> PublicKey:
        """From a ``cryptography`` Ed25519 or P-256/P-384 public key object."""
        if isinstance(key, ed25519.Ed25519PublicKey):
            return cls(KeyType.ED25519, key.public_bytes(Encoding.Raw, PublicFormat.Raw))
        if isinstance(key, ec.EllipticCurvePublicKey):
            for key_type, params in _PARAMS.items():
                if params.curve is not None and params.curve.name == key.curve.name:
                    return cls(
                        key_type, key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
                    )
        raise UnsupportedError(
            f"unsupported public key object {type(key).__name__}",
            f"対応していない公開鍵オブジェクトです {type(key).__name__}",
        )

    # encodings

    def to_jwk(self) -> dict[str, str]:
        """The public JWK: ``kty``, ``crv``, ``x`` (and ``y`` for EC)."""
        if self.key_type is KeyType.ED25519:
            return {"kty": "OKP", "crv": "Ed25519", "x": base64url_encode(self.raw)}
        key = self.to_cryptography()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        numbers = key.public_numbers()
        size = _PARAMS[self.key_type].secret_length
        return {
            "kty": "EC",
            "crv": self.key_type.value,
            "x": base64url_encode(numbers.x.to_bytes(size, "big")),
            "y": base64url_encode(numbers.y.to_bytes(size, "big")),
        }

    @property
    def multikey(self) -> str:
        """``publicKeyMultibase`` value (``z6Mk…``, ``zDn…``, ``z82…``)."""
        codec = _PARAMS[self.key_type].public_codec
        return multibase_encode(varint_encode(codec) + self.raw, "z")

    @property
    def alg(self) -> str:
        """JOSE algorithm name: ``EdDSA``, ``ES256`` or ``ES384``."""
        return _PARAMS[self.key_type].alg

    def jwk_thumbprint(self) -> str:
        """RFC 7638 §3 JWK thumbprint (SHA-256, base64url)."""
        canonical = json.dumps(self.to_jwk(), sort_keys=True, separators=(",", ":"))
        return base64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())

    def to_cryptography(self) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
        """The equivalent ``cryptography`` public key object."""
        if self.key_type is KeyType.ED25519:
            return ed25519.Ed25519PublicKey.from_public_bytes(self.raw)
        curve = _PARAMS[self.key_type].curve
        assert curve is not None
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, self.raw)

    # verification

    def verify(self, signature: bytes, data: bytes) -> None:
        """Verify ``signature`` over ``data``; raise :class:`InvalidSignatureError` on failure.

        Ed25519: pure EdDSA (RFC 8032 §5.1.7), 64 bytes. P-256/P-384: ECDSA with SHA-256 /
        SHA-384 over ``data``, signature ``r||s`` of 64 / 96 bytes; high and low ``s`` accepted.
        """
        if not isinstance(signature, bytes | bytearray | memoryview) or not isinstance(
            data, bytes | bytearray | memoryview
        ):
            raise InvalidSignatureError(
                "signature and data must be bytes", "署名とデータはバイト列でなければなりません"
            )
        signature, data = bytes(signature), bytes(data)
        fail = InvalidSignatureError(
            f"{self.alg} signature does not verify", f"{self.alg} 署名の検証に失敗しました"
        )
        key = self.to_cryptography()
        if isinstance(key, ed25519.Ed25519PublicKey):
            if len(signature) != 64:
                raise InvalidSignatureError(
                    f"Ed25519 signature must be 64 bytes, got {len(signature)}",
                    f"Ed25519 署名は 64 バイトでなければなりません ({len(signature)} バイト)",
                )
            try:
                key.verify(signature, data)
            except InvalidSignature:
                raise fail from None
            return
        params = _PARAMS[self.key_type]
        size = params.secret_length
        if len(signature) != 2 * size:
            raise InvalidSignatureError(
                f"{self.alg} signature must be {2 * size} bytes (r||s), got {len(signature)}",
                f"{self.alg} 署名は {2 * size} バイト (r||s) でなければなりません "
                f"({len(signature)} バイト)",
            )
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        if not (0 < r < params.order and 0 < s < params.order):
            raise fail
        try:
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(_hash_for(self.key_type)))
        except InvalidSignature:
            raise fail from None


# --- private keys -----------------------------------------------------------------------------


class PrivateKey:
    """A private key with its public key. Signs; never shows its secret in ``repr``.

    Satisfies :class:`Signer`. Build it with :meth:`from_seed`, :meth:`from_jwk`,
    :meth:`from_secret_multikey` or :func:`generate_private_key`.
    """

    __slots__ = ("_key", "_key_type", "_public_key", "_secret")

    _key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

    def __init__(self, key_type: KeyType, secret: bytes) -> None:
        """From the secret bytes (Ed25519 seed or EC scalar ``d``); see :meth:`from_seed`."""
        try:
            key_type = KeyType(key_type)
        except ValueError as exc:
            raise UnsupportedError(
                f"unsupported key type {key_type!r}", f"対応していない鍵種別です {key_type!r}"
            ) from exc
        if not isinstance(secret, bytes | bytearray | memoryview):
            raise _key_error("secret key must be bytes", "秘密鍵はバイト列でなければなりません")
        secret = bytes(secret)
        params = _PARAMS[key_type]
        if len(secret) != params.secret_length:
            raise _key_error(
                f"{key_type.value} secret key must be {params.secret_length} bytes, "
                f"got {len(secret)}",
                f"{key_type.value} 秘密鍵は {params.secret_length} バイトでなければなりません "
                f"({len(secret)} バイト)",
            )
        if key_type is KeyType.ED25519:
            self._key = ed25519.Ed25519PrivateKey.from_private_bytes(secret)
        else:
            d = int.from_bytes(secret, "big")
            if not 1 <= d < params.order:
                raise _key_error(
                    f"{key_type.value} secret scalar out of range [1, n-1]",
                    f"{key_type.value} 秘密鍵のスカラーが範囲 [1, n-1] 外です",
                )
            assert params.curve is not None
            self._key = ec.derive_private_key(d, params.curve)
        self._key_type = key_type
        self._secret = secret
        self._public_key = PublicKey.from_cryptography(self._key.public_key())

    # constructors

    @classmethod
    def from_seed(cls, key_type: KeyType, seed: bytes) -> PrivateKey:
        """Ed25519: the 32-byte seed (RFC 8032 §5.1.5). EC: ``d`` big-endian, curve size."""
        return cls(key_type, seed)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, object]) -> PrivateKey:
        """From a private JWK; ``d`` is required and must match ``x`` (and ``y``)."""
        public = _public_from_jwk(jwk, allow_private=True)
        if "d" not in jwk:
            raise _key_error(
                "JWK: private member 'd' is missing", "JWK: 秘密鍵のメンバー 'd' がありません"
            )
        d = _b64_member(jwk, "d", _PARAMS[public.key_type].secret_length)
        key = cls(public.key_type, d)
        if key.public_key != public:
            raise _key_error(
                "JWK: 'd' does not match the public key", "JWK: 'd' が公開鍵と一致しません"
            )
        return key

    @classmethod
    def from_secret_multikey(cls, text: str) -> PrivateKey:
        """From ``secretKeyMultibase`` (CID 1.0 §2.4: codecs 0x1300, 0x1306, 0x1307)."""
        codec, raw = _decode_multikey(text, "secretKeyMultibase")
        key_type = _BY_SECRET_CODEC.get(codec)
        if key_type is None:
            if codec in _BY_PUBLIC_CODEC:
                raise _key_error(
                    "secretKeyMultibase holds a public key, not a secret key",
                    "secretKeyMultibase に秘密鍵ではなく公開鍵が含まれています",
                )
            raise UnsupportedError(
                f"secretKeyMultibase: unsupported multicodec 0x{codec:x}",
                f"secretKeyMultibase: 対応していない multicodec 0x{codec:x} です",
            )
        return cls(key_type, raw)

    # properties and encodings

    @property
    def key_type(self) -> KeyType:
        return self._key_type

    @property
    def public_key(self) -> PublicKey:
        return self._public_key

    @property
    def alg(self) -> str:
        """JOSE algorithm name: ``EdDSA``, ``ES256`` or ``ES384``."""
        return self._public_key.alg

    def to_jwk(self, include_private: bool = True) -> dict[str, str]:
        """The JWK; with ``d`` unless ``include_private`` is false."""
        jwk = self._public_key.to_jwk()
        if include_private:
            jwk["d"] = base64url_encode(self._secret)
        return jwk

    @property
    def secret_multikey(self) -> str:
        """``secretKeyMultibase`` value (CID 1.0 §2.4). Never publish it."""
        codec = _PARAMS[self._key_type].secret_codec
        return multibase_encode(varint_encode(codec) + self._secret, "z")

    def to_cryptography(self) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
        """The equivalent ``cryptography`` private key object."""
        return self._key

    # signing

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``: Ed25519 pure EdDSA (64 bytes); ECDSA SHA-256/384, RFC 6979, ``r||s``.

        The ECDSA ``s`` is not low-S normalised (vc-di-ecdsa vectors have a high ``s``).
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MalformedValueError(
                "data to sign must be bytes", "署名対象はバイト列でなければなりません"
            )
        data = bytes(data)
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(data)
        try:
            der = self._key.sign(
                data, ec.ECDSA(_hash_for(self._key_type), deterministic_signing=True)
            )
        except UnsupportedAlgorithm as exc:  # pragma: no cover - OpenSSL without RFC 6979
            raise UnsupportedError(
                "deterministic ECDSA is not available", "決定的 ECDSA が利用できません"
            ) from exc
        r, s = decode_dss_signature(der)
        size = _PARAMS[self._key_type].secret_length
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    # dunder

    def __repr__(self) -> str:
        return f"PrivateKey({self._key_type.value}, public={self._public_key.multikey})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PrivateKey):
            return NotImplemented
        return self._key_type is other._key_type and hmac.compare_digest(
            self._secret, other._secret
        )

    def __hash__(self) -> int:
        return hash(self._public_key)

    def __copy__(self) -> PrivateKey:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> PrivateKey:
        return self  # immutable


def generate_private_key(key_type: KeyType, random_bytes: Callable[[int], bytes]) -> PrivateKey:
    """A new private key from ``random_bytes(n)`` (shells pass :func:`secrets.token_bytes`).

    EC scalars are rejection-sampled in [1, n-1] (FIPS 186-5 A.4.2); a source that fails
    128 times in a row is broken and raises :class:`KeyFormatError`.
    """
    key_type = KeyType(key_type)
    params = _PARAMS[key_type]
    for _ in range(128):
        candidate = random_bytes(params.secret_length)
        if not isinstance(candidate, bytes) or len(candidate) != params.secret_length:
            raise _key_error(
                "random source returned the wrong number of bytes",
                "乱数源が返したバイト数が不正です",
            )
        if key_type is KeyType.ED25519:
            return PrivateKey(key_type, candidate)
        if 1 <= int.from_bytes(candidate, "big") < params.order:
            return PrivateKey(key_type, candidate)
    raise _key_error(
        "random source keeps returning out-of-range scalars",
        "乱数源が範囲外のスカラーを返し続けています",
    )


@runtime_checkable
class Signer(Protocol):
    """Anything that signs for a key: :class:`PrivateKey`, or a KMS/HSM adapter."""

    @property
    def public_key(self) -> PublicKey: ...

    @property
    def alg(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...
