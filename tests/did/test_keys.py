"""Keys: JWK, Multikey, signatures (RFC 8037, RFC 6979, RFC 7638, CID 1.0 §2.4, vc-di suites)."""

from __future__ import annotations

import contextlib
import copy
import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from did.errors import (
    FurusatoError,
    InvalidSignatureError,
    KeyFormatError,
    UnsupportedError,
)
from did.keys import KeyType, PrivateKey, PublicKey, Signer, generate_private_key
from did.multibase import base58btc_encode, base64url_decode, base64url_encode, varint_encode
from tests.did.conftest import SpecKeyPair

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ORDERS = {
    KeyType.P256: P256_N,
    KeyType.P384: int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}
ED_P = 2**255 - 19

# RFC 8037 Appendix A.1 (Ed25519 private key), A.2 (public key).
RFC8037_PRIVATE_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_PUBLIC_JWK = {k: v for k, v in RFC8037_PRIVATE_JWK.items() if k != "d"}
# RFC 8037 A.3 thumbprint; A.4 JWS signing input and signature.
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_SIGNING_INPUT = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_SIGNATURE = (
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)

# RFC 6979 Appendix A.2.5: P-256 key, message "sample", SHA-256.
RFC6979_D = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"
RFC6979_UX = "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
RFC6979_UY = "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
RFC6979_R = "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
RFC6979_S = "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"


def _multikey(codec: int, raw: bytes) -> str:
    return "z" + base58btc_encode(varint_encode(codec) + raw)


def _counter_rng(chunks: list[bytes]) -> Callable[[int], bytes]:
    it = iter(chunks)

    def random_bytes(n: int) -> bytes:
        chunk = next(it)
        assert len(chunk) == n
        return chunk

    return random_bytes


# --- W3C vc-di vectors: every encoding round-trips, signatures reproduce ----------------------


def test_spec_key_pair_round_trips_every_encoding(spec_pair: SpecKeyPair) -> None:
    public = PublicKey.from_multikey(spec_pair.public_multibase)
    secret = PrivateKey.from_secret_multikey(spec_pair.secret_multibase)
    assert public.key_type is spec_pair.key_type
    assert secret.key_type is spec_pair.key_type
    assert secret.public_key == public
    assert public.multikey == spec_pair.public_multibase
    assert secret.secret_multikey == spec_pair.secret_multibase
    # JWK, both ways
    assert PublicKey.from_jwk(public.to_jwk()) == public
    assert PrivateKey.from_jwk(secret.to_jwk()) == secret
    assert secret.to_jwk(include_private=False) == public.to_jwk()
    # raw seed / scalar
    seed = base64url_decode(secret.to_jwk()["d"])
    assert PrivateKey.from_seed(spec_pair.key_type, seed) == secret
    # cryptography objects
    assert PublicKey.from_cryptography(public.to_cryptography()) == public
    assert PublicKey.from_cryptography(secret.to_cryptography().public_key()) == public
    # thumbprint is stable across encodings
    assert PublicKey.from_jwk(public.to_jwk()).jwk_thumbprint() == public.jwk_thumbprint()


def test_spec_signature_reproduces_byte_for_byte(spec_pair: SpecKeyPair) -> None:
    """vc-di-eddsa / vc-di-ecdsa: Ed25519 and RFC 6979 ECDSA without low-S normalisation."""
    secret = PrivateKey.from_secret_multikey(spec_pair.secret_multibase)
    assert secret.sign(spec_pair.signed_data) == spec_pair.signature
    secret.public_key.verify(spec_pair.signature, spec_pair.signed_data)


def test_spec_vector_p256_signature_has_high_s_and_low_s_twin_verifies() -> None:
    pair = next(p for p in _spec_pairs() if p.key_type is KeyType.P256)
    public = PublicKey.from_multikey(pair.public_multibase)
    r, s = pair.signature[:32], int.from_bytes(pair.signature[32:], "big")
    assert s > P256_N // 2  # the vector's s is high
    low_s = r + (P256_N - s).to_bytes(32, "big")
    public.verify(low_s, pair.signed_data)  # both accepted when verifying
    public.verify(pair.signature, pair.signed_data)


def _spec_pairs() -> list[SpecKeyPair]:
    from tests.did.conftest import SPEC_KEY_PAIRS

    return SPEC_KEY_PAIRS


@pytest.mark.parametrize(
    ("multikey_prefix", "key_type"),
    [("z6Mk", KeyType.ED25519), ("zDn", KeyType.P256), ("z82", KeyType.P384)],
)
def test_multikey_prefixes(multikey_prefix: str, key_type: KeyType) -> None:
    pair = next(p for p in _spec_pairs() if p.key_type is key_type)
    assert PublicKey.from_multikey(pair.public_multibase).multikey.startswith(multikey_prefix)


def test_ed25519_secret_multikey_prefix() -> None:
    pair = next(p for p in _spec_pairs() if p.key_type is KeyType.ED25519)
    assert pair.secret_multibase.startswith("z3u2")


# --- RFC known answers --------------------------------------------------------------------------


def test_rfc8037_a3_thumbprint() -> None:
    assert PublicKey.from_jwk(RFC8037_PUBLIC_JWK).jwk_thumbprint() == RFC8037_THUMBPRINT


def test_rfc8037_a1_a2_private_key_matches_public() -> None:
    key = PrivateKey.from_jwk(RFC8037_PRIVATE_JWK)
    assert key.public_key.to_jwk() == RFC8037_PUBLIC_JWK
    assert key.to_jwk() == RFC8037_PRIVATE_JWK
    assert key.alg == key.public_key.alg == "EdDSA"


def test_rfc8037_a4_a5_ed25519_signature() -> None:
    key = PrivateKey.from_jwk(RFC8037_PRIVATE_JWK)
    signature = base64url_decode(RFC8037_SIGNATURE)
    assert key.sign(RFC8037_SIGNING_INPUT) == signature
    key.public_key.verify(signature, RFC8037_SIGNING_INPUT)  # A.5
    with pytest.raises(InvalidSignatureError):
        key.public_key.verify(signature, RFC8037_SIGNING_INPUT + b"x")


def test_rfc6979_a25_p256_sha256_sample() -> None:
    key = PrivateKey.from_seed(KeyType.P256, bytes.fromhex(RFC6979_D))
    jwk = key.public_key.to_jwk()
    assert base64url_decode(jwk["x"]).hex().upper() == RFC6979_UX
    assert base64url_decode(jwk["y"]).hex().upper() == RFC6979_UY
    signature = key.sign(b"sample")
    assert signature == bytes.fromhex(RFC6979_R + RFC6979_S)
    key.public_key.verify(signature, b"sample")
    assert key.alg == "ES256"


# --- verification failures ----------------------------------------------------------------------


@pytest.mark.parametrize("key_type", list(KeyType))
def test_verify_rejects_wrong_length_tampering_and_wrong_key(key_type: KeyType) -> None:
    key = generate_private_key(key_type, _counter_rng([bytes([7]) * _size(key_type)]))
    other = generate_private_key(key_type, _counter_rng([bytes([9]) * _size(key_type)]))
    data = b"furusato"
    signature = key.sign(data)
    key.public_key.verify(signature, data)
    for bad in (signature[:-1], signature + b"\x00", b"", bytes(len(signature))):
        with pytest.raises(InvalidSignatureError):
            key.public_key.verify(bad, data)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(InvalidSignatureError):
        key.public_key.verify(flipped, data)
    with pytest.raises(InvalidSignatureError):
        other.public_key.verify(signature, data)
    with pytest.raises(InvalidSignatureError):
        key.public_key.verify(signature, data + b"!")
    with pytest.raises(InvalidSignatureError):
        key.public_key.verify("not bytes", data)  # type: ignore[arg-type]


def _size(key_type: KeyType) -> int:
    return 48 if key_type is KeyType.P384 else 32


@pytest.mark.parametrize("key_type", [KeyType.P256, KeyType.P384])
def test_ecdsa_rejects_der_and_out_of_range_scalars(key_type: KeyType) -> None:
    key = PrivateKey.from_seed(key_type, bytes([5]) * _size(key_type))
    size = _size(key_type)
    n = ORDERS[key_type]
    backend_key = key.to_cryptography()
    assert isinstance(backend_key, ec.EllipticCurvePrivateKey)
    digest = hashes.SHA384() if key_type is KeyType.P384 else hashes.SHA256()
    der = backend_key.sign(b"m", ec.ECDSA(digest))
    with pytest.raises(InvalidSignatureError):
        key.public_key.verify(der, b"m")
    signature = key.sign(b"m")
    r = signature[:size]
    with pytest.raises(InvalidSignatureError):  # s = n
        key.public_key.verify(r + n.to_bytes(size, "big"), b"m")
    with pytest.raises(InvalidSignatureError):  # r = 0
        key.public_key.verify(bytes(size) + signature[size:], b"m")


# --- JWK parsing ----------------------------------------------------------------------------------


def test_public_jwk_with_d_is_rejected() -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_jwk(RFC8037_PRIVATE_JWK)


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "OKP", "crv": "X25519", "x": "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"},
        {"kty": "OKP", "crv": "Ed448", "x": "AA"},
        {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "oct"},
    ],
)
def test_unsupported_jwk_types(jwk: dict[str, str]) -> None:
    with pytest.raises(UnsupportedError):
        PublicKey.from_jwk(jwk)


def _p256_jwk() -> dict[str, str]:
    return PrivateKey.from_seed(KeyType.P256, bytes.fromhex(RFC6979_D)).public_key.to_jwk()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda j: j.pop("kty"),
        lambda j: j.pop("crv"),
        lambda j: j.pop("x"),
        lambda j: j.pop("y"),
        lambda j: j.update(x=j["x"] + "="),  # padding
        lambda j: j.update(x=j["x"][:-1]),  # short
        lambda j: j.update(x="A" + j["x"]),  # not canonical / too long
        lambda j: j.update(x="+" + j["x"][1:]),  # standard alphabet
        lambda j: j.update(y=base64url_encode(bytes(32))),  # not on the curve
        lambda j: j.update(y=base64url_encode(b"\xff" * 32)),  # coordinate >= p
        lambda j: j.update(alg="ES384"),  # alg / curve mismatch
        lambda j: j.update(alg=["ES256"]),
        lambda j: j.update(kty=1),
    ],
)
def test_malformed_ec_jwks_are_rejected(mutate: Callable[[dict[str, object]], object]) -> None:
    jwk: dict[str, object] = dict(_p256_jwk())
    mutate(jwk)
    with pytest.raises((KeyFormatError, UnsupportedError)):
        PublicKey.from_jwk(jwk)


def test_jwk_accepts_matching_alg_and_extra_members() -> None:
    jwk = {**_p256_jwk(), "alg": "ES256", "kid": "key-1", "use": "sig"}
    assert PublicKey.from_jwk(jwk).to_jwk() == _p256_jwk()
    assert PublicKey.from_jwk({**RFC8037_PUBLIC_JWK, "alg": "Ed25519"}).alg == "EdDSA"


def test_jwk_must_be_a_mapping() -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_jwk(["kty", "OKP"])  # type: ignore[arg-type]


def test_private_jwk_requires_matching_d() -> None:
    with pytest.raises(KeyFormatError):
        PrivateKey.from_jwk(RFC8037_PUBLIC_JWK)  # no d
    other = PrivateKey.from_seed(KeyType.ED25519, bytes(32))
    with pytest.raises(KeyFormatError):
        PrivateKey.from_jwk({**RFC8037_PUBLIC_JWK, "d": other.to_jwk()["d"]})
    p256 = PrivateKey.from_seed(KeyType.P256, bytes.fromhex(RFC6979_D))
    wrong_d = PrivateKey.from_seed(KeyType.P256, bytes([3]) * 32).to_jwk()["d"]
    with pytest.raises(KeyFormatError):
        PrivateKey.from_jwk({**p256.public_key.to_jwk(), "d": wrong_d})
    with pytest.raises(KeyFormatError):  # d of the wrong length
        PrivateKey.from_jwk({**p256.public_key.to_jwk(), "d": base64url_encode(b"\x01" * 31)})


# --- Multikey parsing ---------------------------------------------------------------------------


def test_multikey_negative_cases() -> None:
    ed = PrivateKey.from_seed(KeyType.ED25519, bytes(32))
    p256 = PrivateKey.from_seed(KeyType.P256, bytes.fromhex(RFC6979_D))
    numbers = p256.public_key.to_cryptography().public_numbers()  # type: ignore[union-attr]
    uncompressed = b"\x04" + numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
    raw_ed = ed.public_key.raw
    with pytest.raises(KeyFormatError):  # uncompressed EC point
        PublicKey.from_multikey(_multikey(0x1200, uncompressed))
    with pytest.raises(KeyFormatError):  # P-256 length under the P-384 codec
        PublicKey.from_multikey(_multikey(0x1201, p256.public_key.raw))
    with pytest.raises(KeyFormatError):  # short Ed25519 key
        PublicKey.from_multikey(_multikey(0xED, raw_ed[:31]))
    with pytest.raises(KeyFormatError):  # long Ed25519 key
        PublicKey.from_multikey(_multikey(0xED, raw_ed + b"\x00"))
    with pytest.raises(UnsupportedError):  # X25519 (0xec)
        PublicKey.from_multikey(_multikey(0xEC, raw_ed))
    with pytest.raises(UnsupportedError):  # secp256k1 (0xe7)
        PublicKey.from_multikey(_multikey(0xE7, p256.public_key.raw))
    with pytest.raises(KeyFormatError):  # a secret key where a public key belongs
        PublicKey.from_multikey(ed.secret_multikey)
    with pytest.raises(KeyFormatError):  # and the other way round
        PrivateKey.from_secret_multikey(ed.public_key.multikey)
    with pytest.raises(UnsupportedError):
        PrivateKey.from_secret_multikey(_multikey(0x1301, bytes(32)))
    with pytest.raises(KeyFormatError):  # base64url multibase is not allowed here
        PublicKey.from_multikey("u" + base64url_encode(varint_encode(0xED) + raw_ed))
    with pytest.raises(KeyFormatError):
        PublicKey.from_multikey("z6Mk0OIl")
    with pytest.raises(KeyFormatError):  # non-minimal varint
        PublicKey.from_multikey("z" + base58btc_encode(b"\xed\x81\x00" + raw_ed))


def test_ec_point_not_on_curve_is_rejected() -> None:
    # about half of all x have no point on P-256; take the first such x
    for x in range(1, 50):
        raw = b"\x02" + x.to_bytes(32, "big")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            with pytest.raises(KeyFormatError):
                PublicKey(KeyType.P256, raw)
            return
    pytest.fail("no off-curve x found")  # pragma: no cover


@pytest.mark.parametrize(
    "raw",
    [
        bytes(32),  # y = 0: order 4
        b"\x01" + bytes(31),  # identity (0, 1)
        (ED_P - 1).to_bytes(32, "little"),  # (0, -1): order 2
        ED_P.to_bytes(32, "little"),  # non-canonical y
        (ED_P + 1).to_bytes(32, "little"),  # non-canonical identity
        (2).to_bytes(32, "little"),  # y = 2 is not on the curve
    ],
)
def test_ed25519_invalid_and_small_order_points_are_rejected(raw: bytes) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey(KeyType.ED25519, raw)


def test_public_key_constructor_validates_length_and_type() -> None:
    with pytest.raises(KeyFormatError):
        PublicKey(KeyType.P256, b"\x02" + bytes(31))
    with pytest.raises(KeyFormatError):
        PublicKey(KeyType.ED25519, "x" * 32)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedError):
        PublicKey("X25519", bytes(32))  # type: ignore[arg-type]
    raw = PrivateKey.from_seed(KeyType.ED25519, bytes(32)).public_key.raw
    coerced = PublicKey("Ed25519", raw)  # type: ignore[arg-type]
    assert coerced.key_type is KeyType.ED25519


def test_from_cryptography_rejects_other_keys() -> None:
    with pytest.raises(UnsupportedError):
        PublicKey.from_cryptography(rsa.generate_private_key(65537, 1024).public_key())
    with pytest.raises(UnsupportedError):
        PublicKey.from_cryptography(ec.generate_private_key(ec.SECP521R1()).public_key())
    with pytest.raises(UnsupportedError):
        PublicKey.from_cryptography(ed25519.Ed25519PrivateKey.generate())


# --- private keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", [KeyType.P256, KeyType.P384])
def test_ec_scalar_range(key_type: KeyType) -> None:
    size = _size(key_type)
    with pytest.raises(KeyFormatError):
        PrivateKey.from_seed(key_type, bytes(size))
    with pytest.raises(KeyFormatError):
        PrivateKey.from_seed(key_type, ORDERS[key_type].to_bytes(size, "big"))
    PrivateKey.from_seed(key_type, (ORDERS[key_type] - 1).to_bytes(size, "big"))
    PrivateKey.from_seed(key_type, (1).to_bytes(size, "big"))
    with pytest.raises(KeyFormatError):
        PrivateKey.from_seed(key_type, bytes(size - 1) + b"\x01" + b"\x00")


def test_seed_length() -> None:
    with pytest.raises(KeyFormatError):
        PrivateKey.from_seed(KeyType.ED25519, bytes(31))
    with pytest.raises(KeyFormatError):
        PrivateKey.from_seed(KeyType.ED25519, bytes(64))


def test_generate_is_deterministic_in_its_randomness() -> None:
    seed = hashlib.sha256(b"seed").digest()
    a = generate_private_key(KeyType.ED25519, _counter_rng([seed]))
    b = generate_private_key(KeyType.ED25519, _counter_rng([seed]))
    assert a == b
    assert a.public_key == PrivateKey.from_seed(KeyType.ED25519, seed).public_key


@pytest.mark.parametrize("key_type", [KeyType.P256, KeyType.P384])
def test_generate_rejection_samples_ec_scalars(key_type: KeyType) -> None:
    size = _size(key_type)
    good = (12345).to_bytes(size, "big")
    key = generate_private_key(key_type, _counter_rng([b"\xff" * size, bytes(size), good]))
    assert key == PrivateKey.from_seed(key_type, good)


def test_generate_fails_on_a_broken_source() -> None:
    with pytest.raises(KeyFormatError):
        generate_private_key(KeyType.P256, lambda n: bytes(n))
    with pytest.raises(KeyFormatError):
        generate_private_key(KeyType.ED25519, lambda n: bytes(n - 1))


def test_repr_and_copy_hide_nothing_secret() -> None:
    key = PrivateKey.from_jwk(RFC8037_PRIVATE_JWK)
    text = repr(key) + str(key)
    assert RFC8037_PRIVATE_JWK["d"] not in text
    assert base64url_decode(RFC8037_PRIVATE_JWK["d"]).hex() not in text
    assert key.secret_multikey not in text
    assert key.public_key.multikey in repr(key)
    assert copy.deepcopy(key) == key
    assert "secret" not in repr(key.public_key)


def test_private_key_equality_and_hash() -> None:
    a = PrivateKey.from_seed(KeyType.ED25519, bytes(32))
    b = PrivateKey.from_seed(KeyType.ED25519, bytes(32))
    c = PrivateKey.from_seed(KeyType.ED25519, b"\x01" * 32)
    assert a == b
    assert hash(a) == hash(b)
    assert a != c
    assert a != "key"


def test_private_key_is_a_signer() -> None:
    key = PrivateKey.from_seed(KeyType.P256, bytes.fromhex(RFC6979_D))
    assert isinstance(key, Signer)
    signer: Signer = key
    assert signer.alg == "ES256"
    signer.public_key.verify(signer.sign(b"x"), b"x")


def test_sign_rejects_non_bytes() -> None:
    with pytest.raises(FurusatoError):
        PrivateKey.from_seed(KeyType.ED25519, bytes(32)).sign("text")  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------------


@st.composite
def private_keys(draw: st.DrawFn) -> PrivateKey:
    key_type = draw(st.sampled_from(list(KeyType)))
    if key_type is KeyType.ED25519:
        return PrivateKey.from_seed(key_type, draw(st.binary(min_size=32, max_size=32)))
    n = ORDERS[key_type]
    d = draw(st.integers(min_value=1, max_value=n - 1))
    return PrivateKey.from_seed(key_type, d.to_bytes(_size(key_type), "big"))


@settings(max_examples=60, deadline=None)
@given(private_keys())
def test_every_encoding_round_trips(key: PrivateKey) -> None:
    public = key.public_key
    assert PublicKey.from_multikey(public.multikey) == public
    assert PublicKey.from_jwk(public.to_jwk()) == public
    assert PublicKey.from_cryptography(public.to_cryptography()) == public
    assert PrivateKey.from_secret_multikey(key.secret_multikey) == key
    assert PrivateKey.from_jwk(key.to_jwk()) == key
    assert len(base64url_decode(public.jwk_thumbprint())) == 32


@settings(max_examples=30, deadline=None)
@given(private_keys(), st.binary(max_size=100))
def test_sign_verify(key: PrivateKey, data: bytes) -> None:
    signature = key.sign(data)
    assert len(signature) == {KeyType.ED25519: 64, KeyType.P256: 64, KeyType.P384: 96}[key.key_type]
    key.public_key.verify(signature, data)
    assert key.sign(data) == signature  # deterministic


@given(st.text(max_size=120))
def test_multikey_parsers_raise_only_our_errors(text: str) -> None:
    for parse in (PublicKey.from_multikey, PrivateKey.from_secret_multikey):
        with contextlib.suppress(FurusatoError):
            parse(text)


@settings(max_examples=200)
@given(
    st.sampled_from([0xED, 0x1200, 0x1201, 0x1300, 0x1306, 0x1307, 0xEC]), st.binary(max_size=60)
)
def test_multikey_with_known_codecs_and_random_bodies(codec: int, body: bytes) -> None:
    try:
        key = PublicKey.from_multikey(_multikey(codec, body))
    except FurusatoError:
        return
    assert key.multikey == _multikey(codec, body)


@given(
    st.dictionaries(
        st.sampled_from(["kty", "crv", "x", "y", "d", "alg", "use"]),
        st.one_of(
            st.sampled_from(["OKP", "EC", "Ed25519", "P-256", "P-384", "ES256", "EdDSA"]),
            st.text(max_size=70),
            st.integers(),
            st.none(),
            st.lists(st.integers(), max_size=2),
        ),
    )
)
def test_jwk_parser_raises_only_our_errors(jwk: dict[str, object]) -> None:
    for parse in (PublicKey.from_jwk, PrivateKey.from_jwk):
        with contextlib.suppress(FurusatoError):
            parse(jwk)


@given(st.binary(max_size=64))
def test_public_key_constructor_raises_only_our_errors(raw: bytes) -> None:
    for key_type in KeyType:
        with contextlib.suppress(FurusatoError):
            PublicKey(key_type, raw)
