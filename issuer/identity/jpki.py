"""JPKI: identity proven by a signature of the My Number Card's 署名用電子証明書 (DESIGN.md §10).

Flow
----
1. The issuer makes a challenge, :func:`new_challenge` (32 random bytes from the caller's RNG),
   keeps it with the applicant's session and hands it to the applicant's client.
2. The client has the card sign it with the 署名用電子証明書's private key (the card computes
   RSASSA-PKCS1-v1_5; the client sends it the SHA-256 DigestInfo) and returns the signature,
   the card's signing certificate (DER) and, optionally, CA certificates (DER).
3. :func:`verify_signature` checks everything below and returns a :class:`ProvenIdentity`
   (method ``"jpki"``) with the 基本4情報 read from the certificate, or raises
   :class:`JpkiError` (an :class:`IdentityError`) with one of the codes below.  The caller
   must make sure the challenge is the one it issued for this session and use it once.

What is checked, in this order (the first failure decides the code)
--------------------------------------------------------------------
* Sizes: certificate ≤ 16 KiB, signature ≤ 1 KiB, at most ``max_chain_certificates`` extra
  certificates, CRLs ≤ ``max_crl_bytes`` — ``jpki_certificate_malformed`` (certificates),
  ``jpki_signature_invalid`` (signature), ``jpki_crl_unavailable`` (CRL).
* Parsing: every certificate strict DER, X.509 v3, extensions well-formed —
  ``jpki_certificate_malformed``.
* Certificate type (the leaf): not a CA (basicConstraints absent or cA false); keyUsage present
  with every bit of ``JpkiProfile.key_usage`` (digitalSignature + nonRepudiation, as the J-LIS
  signing certificate has) and neither keyCertSign nor cRLSign; certificatePolicies with one of
  ``JpkiProfile.policy_oids``; an RSA key of ``min_rsa_bits``..``max_rsa_bits`` —
  ``jpki_wrong_certificate_type``.  (The 利用者証明用電子証明書 has digitalSignature only and
  another policy, so it is refused here.)
* The signature over the challenge: RSASSA-PKCS1-v1_5 with one of ``JpkiProfile.challenge_hashes``
  (default SHA-256 only; SHA-384/512 may be allowed — the DigestInfo names the hash, so trying
  each allowed one is unambiguous) — ``jpki_signature_invalid``.
* The chain, by hand (``cryptography.x509.verification`` is built for the web PKI: server/client
  EKUs, SAN rules, no CRLs): from the leaf, each issuer is looked for among the configured trust
  anchors, then among the supplied certificates (issuer name = subject name, key identifiers
  consistent when both present); each signature must be RSASSA-PKCS1-v1_5 with SHA-256/384/512
  by an RSA key of at least ``min_rsa_bits`` and verify (the inner and outer algorithms must
  agree).  A path must end in a configured anchor; certificates the client sends are never
  trusted on their own — ``jpki_certificate_untrusted``.  On every certificate of the path,
  anchors included: no critical extension this module does not process (name constraints, policy
  constraints, critical EKU…) — ``jpki_certificate_untrusted``; validity at ``now`` ± clock skew —
  ``jpki_certificate_expired`` (also not yet valid); on every CA: basicConstraints cA true,
  pathLenConstraint respected, keyCertSign when keyUsage is present —
  ``jpki_certificate_untrusted``.  Several candidate paths (a key rollover) are tried; the first
  that passes wins, else the first path's failure is reported.
* Revocation of the leaf: a CRL (from the configured sources) whose issuer is the leaf's issuer,
  signed (RSASSA-PKCS1-v1_5, SHA-2) by the key of the CA that issued the leaf (with cRLSign when
  it has keyUsage), thisUpdate not in the future, nextUpdate present and not passed, thisUpdate
  no older than ``max_crl_age`` (both bounds, skew allowed), no delta-CRL indicator and no
  critical extension beyond issuingDistributionPoint, and covering the leaf: without an
  issuingDistributionPoint it is a full CRL; with one (J-LIS partitions its CRLs by distribution
  point) it must not be limited to CA/attribute certificates or to some reasons, must not be
  indirect, and its distribution point name must match one in the leaf's cRLDistributionPoints.
  No usable CRL means revocation cannot be checked, so the proof is refused (fail closed) —
  ``jpki_crl_unavailable`` (status 503).  The serial on a usable CRL (any reason, hold included) —
  ``jpki_certificate_revoked``.  The CAs' own revocation (ARL) is not checked: configure as
  anchors only CAs you trust without it.
* The attributes (see the profile below) — ``jpki_attributes_missing`` when one is absent,
  duplicated, wrongly encoded or unusable (e.g. a birth date with era 0, 不明).

Messages are in Japanese and English and never contain personal data; the returned
:class:`ProvenIdentity` hides its fields from ``repr``.  Nothing here logs, stores, reads the
clock or a global RNG, or touches the network (a CRL fetcher is the caller's callable).

The profile read (:class:`JpkiProfile`; every OID and encoding is configurable)
------------------------------------------------------------------------------
subjectAltName ``otherName`` entries of the signing certificate, each value ``[0] EXPLICIT``
around a UTF8String (other string types only if ``string_tags`` allows them):

=========================  ===============================  =========================================
OID                        J-LIS name                       value
=========================  ===============================  =========================================
1.2.392.200149.8.5.5.1     氏名 (commonName)                 the name; family and given name are
                                                            separated by a full-width space; at most
                                                            ``max_name_chars`` (our bound)
1.2.392.200149.8.5.5.2     氏名代替文字の使用位置情報        one digit per character of the name, 0
                                                            (as registered) or 1 (代替文字, a
                                                            character outside JIS X 0208 levels 1–2
                                                            and 補助漢字 replaced); checked, not
                                                            returned
1.2.392.200149.8.5.5.3     性別 (gender)                     ``1`` 男 → ``"male"``, ``2`` 女 →
                                                            ``"female"``, ``3`` 不明 → ``None``
1.2.392.200149.8.5.5.4     生年月日 (dateOfBirth)            ``EYYYYMMDD``: era digit E (1 明治,
                                                            2 大正, 3 昭和, 4 平成, 5 令和, 0 不明)
                                                            then the Gregorian date; era 0 or an
                                                            impossible date is refused; the era is
                                                            not cross-checked against the date
1.2.392.200149.8.5.5.5     住所 (address)                    the address from the prefecture on, no
                                                            postcode; at most 200 characters
1.2.392.200149.8.5.5.6     住所代替文字の使用位置情報        as .2, for the address
=========================  ===============================  =========================================

keyUsage (critical): digitalSignature, nonRepudiation.  certificatePolicies (critical):
1.2.392.200149.8.5.1.1.20 (jpki-cp-sign-class20, the card's signing certificate).  RSA 2048
with SHA-256.

Sources, and how sure this is
-----------------------------
The normative text is J-LIS 「公的個人認証サービス プロファイル仕様書」
(https://www.j-lis.go.jp/file/13_profile_genkou.pdf; the OID tree is on PDF p.32; v2.2 cited in
2022, v3.2 in 2026).  It was **not** available to read here; what is above comes from these public
secondary sources, which agree with each other:

* kjur/jsrsasign-oid-jpki ``lib/index.js`` (commit 5a27b48d): the names of .5.5.1–.6 and of the
  policy 1.2.392.200149.8.5.1.1.20, citing the J-LIS OID tree; its ``README.ja.md`` shows an
  ASN.1 dump of a signing certificate's SAN: each value ``[0] UTF8String``, e.g. dateOfBirth
  ``'319801231'``, gender ``'1'``.  (Its ``test/t_oid.js`` swaps .5 and .6; the library and the
  dumps below say .5 is the address.)
* hnakamur/blog ``content/post/2022/11/01/certificates-in-my-number-card.md``: ``openssl`` output
  of a real 署名用電子証明書 (SAN othernames .1, .4, .3, .5, .2 ``00000``, .6 ``000…``; keyUsage
  critical Digital Signature, Non Repudiation), and, quoted from the Japanese PKI Blog
  (pki.world-tls.com/kojinbango-card/), the value formats: EYYYYMMDD with E = 1 明治 … 5 令和,
  0 不明; gender 1 男, 2 女, 3 不明; address up to 200 characters; the 0/1 position maps.
* susumutomita/ZeroKeyMate ``docs/SOURCES.md``, ``circuits/jpki_age/README.md`` and
  ``docs/card-proof-policy-fix.md``, citing profile 3.2 (printed p.10): RSA-2048/SHA-256, the
  birth date as one era digit and eight Gregorian digits, a critical certificatePolicies with
  1.2.392.200149.8.5.1.1.20.
* RFC 5280 §6 (path validation) and §6.3 (CRL validation, distribution-point matching).

Not confirmed, hence configurable: other string types than UTF8String (``string_tags``); the
exact syntax of the two position maps (we accept only digits 0/1); a name length limit; the
policy OID of the smartphone 署名用電子証明書 (one source suggests 1.2.392.200149.8.5.1.1.40
without confirming it — add it to ``policy_oids`` once confirmed).  Some public OID tables give
a different order (.2 birth date, .4 address); the certificate dumps above contradict them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from issuer.identity import IdentityError, ProvenIdentity

METHOD: Final = "jpki"
CHALLENGE_SIZE: Final = 32
MIN_CHALLENGE_SIZE: Final = 16
MAX_CERTIFICATE_BYTES: Final = 16 * 1024
MAX_SIGNATURE_BYTES: Final = 1024
MAX_CA_RSA_BITS: Final = 8192

# --- The J-LIS profile (sources in the module docstring) ------------------------------------

OID_NAME: Final = "1.2.392.200149.8.5.5.1"
OID_NAME_SUBSTITUTION: Final = "1.2.392.200149.8.5.5.2"
OID_GENDER: Final = "1.2.392.200149.8.5.5.3"
OID_BIRTH_DATE: Final = "1.2.392.200149.8.5.5.4"
OID_ADDRESS: Final = "1.2.392.200149.8.5.5.5"
OID_ADDRESS_SUBSTITUTION: Final = "1.2.392.200149.8.5.5.6"
POLICY_SIGNING_CARD: Final = "1.2.392.200149.8.5.1.1.20"

UTF8_STRING: Final = 0x0C
PRINTABLE_STRING: Final = 0x13

ERAS: Final = {"1": "明治", "2": "大正", "3": "昭和", "4": "平成", "5": "令和"}
GENDERS: Final = (("1", "male"), ("2", "female"), ("3", None))

_HASHES: Final[dict[str, Callable[[], hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CERTIFICATE_SIGNATURE_ALGORITHMS: Final = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
    }
)
_KEY_USAGE_BITS: Final = frozenset(
    {
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
    }
)
# Extensions whose criticality this module honours (it processes them, or they carry no
# constraint).  A critical extension outside this set makes a certificate unusable.
_PROCESSED_EXTENSIONS: Final = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    }
)
_PROCESSED_CRL_EXTENSIONS: Final = frozenset(
    {
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
    }
)
# What cryptography raises on bytes it cannot make sense of.
_PARSE_ERRORS: Final = (
    ValueError,
    TypeError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
    UnsupportedAlgorithm,
)
_PRINTABLE: Final = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]*")
_BIRTH_DATE: Final = re.compile(r"([0-9])([0-9]{4})([0-9]{2})([0-9]{2})")


_E = TypeVar("_E", bound=x509.ExtensionType)


# --- Errors ----------------------------------------------------------------------------------


class JpkiError(IdentityError):
    """A JPKI proof refused; ``code`` is one of the ``jpki_*`` codes of the module docstring."""

    code = "jpki_refused"


_MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "jpki_signature_invalid": (
        "the signature over the challenge does not verify with the certificate's key",
        "チャレンジへの署名が証明書の公開鍵で検証できません",
    ),
    "jpki_certificate_untrusted": (
        "the certificate does not chain to a trusted JPKI certification authority",
        "証明書が信頼する公的個人認証サービスの認証局までたどれません",
    ),
    "jpki_certificate_expired": (
        "a certificate of the chain is expired or not yet valid",
        "証明書の有効期間外です（期限切れまたは有効期間開始前）",
    ),
    "jpki_certificate_revoked": (
        "the signing certificate has been revoked",
        "署名用電子証明書は失効しています",
    ),
    "jpki_crl_unavailable": (
        "the revocation status cannot be checked (no current, valid CRL); try again later",
        "失効情報（CRL）を確認できないため本人確認できません。時間をおいてお試しください",
    ),
    "jpki_certificate_malformed": (
        "the certificate could not be read",
        "証明書を読み取れません",
    ),
    "jpki_wrong_certificate_type": (
        "this is not a My Number Card signing certificate (署名用電子証明書)",
        "マイナンバーカードの署名用電子証明書ではありません",
    ),
    "jpki_attributes_missing": (
        "the certificate does not carry usable name, birth date, gender and address",
        "証明書に利用できる基本4情報（氏名・生年月日・性別・住所）がありません",
    ),
}


def _refuse(code: str, detail_en: str = "", detail_ja: str = "") -> JpkiError:
    """The error for ``code``; the optional detail is a fixed phrase, never data."""
    message_en, message_ja = _MESSAGES[code]
    if detail_en:
        message_en = f"{message_en} ({detail_en})"
    if detail_ja:
        message_ja = f"{message_ja}（{detail_ja}）"
    status = 503 if code == "jpki_crl_unavailable" else None
    return JpkiError(message_en, message_ja, code=code, status=status)


# --- Configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JpkiProfile:
    """What a signing certificate must look like and where its attributes are.

    The defaults are the J-LIS card profile as documented in the module docstring.  Setting an
    optional OID (``*_substitution_oid``, ``gender_oid``) to None stops reading it.
    """

    name_oid: str = OID_NAME
    name_substitution_oid: str | None = OID_NAME_SUBSTITUTION
    gender_oid: str | None = OID_GENDER
    birth_date_oid: str = OID_BIRTH_DATE
    address_oid: str = OID_ADDRESS
    address_substitution_oid: str | None = OID_ADDRESS_SUBSTITUTION
    #: ASN.1 universal tags accepted for the values (UTF8String; PrintableString can be added).
    string_tags: frozenset[int] = frozenset({UTF8_STRING})
    #: Era digits accepted in the birth date (0, 不明, is not: it gives no usable date).
    birth_date_eras: frozenset[str] = frozenset(ERAS)
    #: Gender codes and what they become in :attr:`ProvenIdentity.gender`.
    gender_values: tuple[tuple[str, str | None], ...] = GENDERS
    gender_required: bool = True
    max_name_chars: int = 200
    max_address_chars: int = 200
    #: keyUsage bits the leaf must have (names of :class:`cryptography.x509.KeyUsage`).
    key_usage: frozenset[str] = frozenset({"digital_signature", "content_commitment"})
    #: The leaf must assert one of these policies; empty: not checked.
    policy_oids: frozenset[str] = frozenset({POLICY_SIGNING_CARD})
    #: Hashes allowed for the RSASSA-PKCS1-v1_5 signature over the challenge.
    challenge_hashes: tuple[str, ...] = ("sha256",)
    min_rsa_bits: int = 2048
    max_rsa_bits: int = 4096

    def __post_init__(self) -> None:
        unknown = [name for name in self.challenge_hashes if name not in _HASHES]
        if unknown or not self.challenge_hashes:
            raise ValueError(f"challenge_hashes must be among {sorted(_HASHES)}")
        if not self.key_usage <= _KEY_USAGE_BITS or not self.key_usage:
            raise ValueError(f"key_usage must be a non-empty subset of {sorted(_KEY_USAGE_BITS)}")
        if not self.string_tags <= {UTF8_STRING, PRINTABLE_STRING} or not self.string_tags:
            raise ValueError("string_tags must be UTF8String and/or PrintableString")
        if self.min_rsa_bits < 2048 or self.max_rsa_bits < self.min_rsa_bits:
            raise ValueError("RSA keys of at least 2048 bits are required")


@dataclass(frozen=True)
class StaticCRL:
    """A CRL the deployment has at hand (DER or PEM), refreshed by redeploying the config."""

    data: bytes


@dataclass(frozen=True)
class FetchedCRL:
    """A CRL obtained at verification time by ``fetch(url)`` (the caller's client, which should
    cache and bound it); a fetch that raises counts as no CRL from this source."""

    url: str
    fetch: Callable[[str], bytes] = field(repr=False)


CRLSource = StaticCRL | FetchedCRL


@dataclass(frozen=True)
class JpkiConfig:
    """Trust anchors, CRL sources and limits for :func:`verify_signature`.

    ``trust_anchors``: CA certificates (each item DER, or PEM with one or more certificates) —
    J-LIS's 署名用認証局 self-signed certificates, checked against their published fingerprints
    by whoever deploys them.  A leaf is accepted only through a path that ends in one of them.
    ``max_crl_age``: the oldest thisUpdate accepted (in addition to nextUpdate); set it to at
    least the CA's publication interval.
    """

    trust_anchors: tuple[bytes, ...]
    crl_sources: tuple[CRLSource, ...]
    max_crl_age: timedelta = timedelta(hours=48)
    clock_skew: timedelta = timedelta(minutes=5)
    profile: JpkiProfile = field(default_factory=JpkiProfile)
    max_crl_bytes: int = 32 * 1024 * 1024
    max_chain_certificates: int = 4
    anchors: tuple[x509.Certificate, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        anchors: list[x509.Certificate] = []
        for item in self.trust_anchors:
            try:
                if item.lstrip().startswith(b"-----BEGIN"):
                    loaded = x509.load_pem_x509_certificates(item)
                else:
                    loaded = [x509.load_der_x509_certificate(item)]
                for anchor in loaded:
                    _check_signed_shape(anchor.public_bytes(Encoding.DER), certificate=True)
                anchors.extend(_parse_fully(anchor) for anchor in loaded)
            except _PARSE_ERRORS as exc:
                raise ValueError("a JPKI trust anchor is not a certificate") from exc
        if not anchors:
            raise ValueError("JPKI needs at least one trust anchor")
        if self.clock_skew < timedelta(0) or self.max_crl_age <= timedelta(0):
            raise ValueError("clock_skew must be >= 0 and max_crl_age > 0")
        object.__setattr__(self, "anchors", tuple(anchors))


# --- The provider ----------------------------------------------------------------------------


def new_challenge(random_bytes: Callable[[int], bytes]) -> bytes:
    """A fresh challenge: ``CHALLENGE_SIZE`` bytes from the caller's CSPRNG
    (``secrets.token_bytes`` in production).  Keep it server-side with the session; accept it
    once."""
    challenge = random_bytes(CHALLENGE_SIZE)
    if len(challenge) != CHALLENGE_SIZE:
        raise ValueError(f"random_bytes returned {len(challenge)} bytes, not {CHALLENGE_SIZE}")
    return challenge


def verify_signature(
    challenge: bytes,
    signature: bytes,
    certificate_der: bytes,
    chain_der: Sequence[bytes] = (),
    *,
    config: JpkiConfig,
    now: datetime,
) -> ProvenIdentity:
    """Verify the card's signature over ``challenge`` and its certificate; return the person.

    ``signature``, ``certificate_der`` and ``chain_der`` are untrusted (from the applicant);
    every refusal is a :class:`JpkiError` (module docstring).  ``challenge`` and ``now``
    (timezone-aware) come from the issuer; misusing them is a ValueError.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if len(challenge) < MIN_CHALLENGE_SIZE:
        raise ValueError("the challenge is too short")
    profile = config.profile

    leaf = _load_certificate(certificate_der)
    if len(chain_der) > config.max_chain_certificates:
        raise _refuse(
            "jpki_certificate_malformed", "too many certificates", "証明書の数が多すぎます"
        )
    supplied = [_load_certificate(item) for item in chain_der]

    _check_certificate_type(leaf, profile)
    _check_challenge_signature(leaf, challenge, signature, profile)
    path = _validated_path(leaf, supplied, config, now)
    _check_revocation(leaf, path[1], config, now)
    return _read_identity(leaf, profile)


# --- Parsing ---------------------------------------------------------------------------------


def _load_certificate(data: bytes) -> x509.Certificate:
    if not isinstance(data, bytes) or not data:
        raise _refuse("jpki_certificate_malformed")
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise _refuse("jpki_certificate_malformed", "too large", "サイズが大きすぎます")
    try:
        _check_signed_shape(data, certificate=True)
        certificate = _parse_fully(x509.load_der_x509_certificate(data))
    except _PARSE_ERRORS:
        raise _refuse("jpki_certificate_malformed") from None
    if certificate.version is not x509.Version.v3:
        raise _refuse("jpki_certificate_malformed", "not X.509 v3", "X.509 v3 ではありません")
    return certificate


def _parse_fully(certificate: x509.Certificate) -> x509.Certificate:
    """``certificate`` after reading every field used here (cryptography parses names,
    times and extensions lazily, so a bad one would otherwise raise later)."""
    _ = (certificate.issuer, certificate.subject, certificate.extensions)
    _ = (certificate.not_valid_before_utc, certificate.not_valid_after_utc)
    _ = (certificate.serial_number, certificate.signature_algorithm_oid, certificate.version)
    certificate.public_key()
    return certificate


def _extension(certificate: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _der_split(data: bytes) -> tuple[int, bytes, bytes]:
    """The tag and content of the DER TLV at the front of ``data``, and what follows it (low
    tag numbers and minimal definite lengths only; ValueError otherwise)."""
    if len(data) < 2 or data[0] & 0x1F == 0x1F:
        raise ValueError("not a DER value")
    first = data[1]
    start = 2
    length = first
    if first & 0x80:
        count = first & 0x7F
        if not 1 <= count <= 4 or len(data) < 2 + count or data[2] == 0:
            raise ValueError("not a DER length")
        length = int.from_bytes(data[2 : 2 + count], "big")
        if length < 0x80:
            raise ValueError("not a minimal DER length")
        start = 2 + count
    end = start + length
    if len(data) < end:
        raise ValueError("truncated DER value")
    return data[0], data[start:end], data[end:]


def _der_value(data: bytes) -> tuple[int, bytes]:
    """The tag and content of exactly one DER TLV."""
    tag, content, rest = _der_split(data)
    if rest:
        raise ValueError("not exactly one DER value")
    return tag, content


def _check_signed_shape(data: bytes, *, certificate: bool) -> None:
    """What cryptography lets pass: the outer SEQUENCE {tbs, algorithm, signature} must have a
    signature BIT STRING without unused bits (else a changed byte would still verify), and a
    certificate's serial number must be a positive INTEGER (RFC 5280 §4.1.2.2)."""
    tag, content = _der_value(data)
    tbs_tag, tbs, rest = _der_split(content)
    _, _, rest = _der_split(rest)
    bits_tag, bits, rest = _der_split(rest)
    if tag != 0x30 or tbs_tag != 0x30 or bits_tag != 0x03 or rest or bits[:1] != b"\x00":
        raise ValueError("not a signed X.509 structure")
    if certificate:
        field_tag, field, rest = _der_split(tbs)
        if field_tag == 0xA0:  # [0] version
            field_tag, field, rest = _der_split(rest)
        if field_tag != 0x02 or not field or field[0] & 0x80 or not any(field):
            raise ValueError("the serial number is not a positive integer")


# --- Certificate type and the challenge ------------------------------------------------------


def _rsa_bits(key: object) -> int | None:
    return key.key_size if isinstance(key, rsa.RSAPublicKey) else None


def _check_certificate_type(leaf: x509.Certificate, profile: JpkiProfile) -> None:
    constraints = _extension(leaf, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise _refuse("jpki_wrong_certificate_type", "a CA certificate", "認証局の証明書です")
    usage = _extension(leaf, x509.KeyUsage)
    if usage is None or usage.key_cert_sign or usage.crl_sign:
        raise _refuse("jpki_wrong_certificate_type", "key usage", "鍵用途")
    if not all(getattr(usage, bit) for bit in profile.key_usage):
        raise _refuse("jpki_wrong_certificate_type", "key usage", "鍵用途")
    if profile.policy_oids:
        policies = _extension(leaf, x509.CertificatePolicies)
        asserted = {p.policy_identifier.dotted_string for p in policies or ()}
        if not asserted & profile.policy_oids:
            raise _refuse("jpki_wrong_certificate_type", "certificate policy", "証明書ポリシー")
    bits = _rsa_bits(leaf.public_key())
    if bits is None or not profile.min_rsa_bits <= bits <= profile.max_rsa_bits:
        raise _refuse("jpki_wrong_certificate_type", "key type or size", "鍵の種類または長さ")


def _check_challenge_signature(
    leaf: x509.Certificate, challenge: bytes, signature: bytes, profile: JpkiProfile
) -> None:
    key = leaf.public_key()
    if (
        not isinstance(key, rsa.RSAPublicKey)
        or not isinstance(signature, bytes)
        or len(signature) > MAX_SIGNATURE_BYTES
        or len(signature) != (key.key_size + 7) // 8
    ):
        raise _refuse("jpki_signature_invalid")
    for name in profile.challenge_hashes:
        try:
            key.verify(signature, challenge, padding.PKCS1v15(), _HASHES[name]())
        except InvalidSignature:
            continue
        return
    raise _refuse("jpki_signature_invalid")


# --- The chain -------------------------------------------------------------------------------


def _key_ids_consistent(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    authority = _extension(child, x509.AuthorityKeyIdentifier)
    subject = _extension(issuer, x509.SubjectKeyIdentifier)
    if authority is None or authority.key_identifier is None or subject is None:
        return True
    return authority.key_identifier == subject.digest


def _signed_by(
    signature_algorithm: x509.ObjectIdentifier, issuer: x509.Certificate, min_bits: int
) -> rsa.RSAPublicKey | None:
    """The issuer's key if it may have made a signature with this algorithm."""
    if signature_algorithm not in _CERTIFICATE_SIGNATURE_ALGORITHMS:
        return None
    key = issuer.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or not min_bits <= key.key_size <= MAX_CA_RSA_BITS:
        return None
    return key


def _issued_by(child: x509.Certificate, issuer: x509.Certificate, min_bits: int) -> bool:
    if child.issuer != issuer.subject or not _key_ids_consistent(child, issuer):
        return False
    if _signed_by(child.signature_algorithm_oid, issuer, min_bits) is None:
        return False
    try:
        child.verify_directly_issued_by(issuer)  # names, inner = outer algorithm, signature
    except (InvalidSignature, *_PARSE_ERRORS):
        return False
    return True


def _candidate_paths(
    certificate: x509.Certificate,
    supplied: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    used: frozenset[int],
    min_bits: int,
) -> Iterator[list[x509.Certificate]]:
    """Issuer chains from ``certificate`` up to an anchor (anchor last), signatures verified."""
    for anchor in anchors:
        if _issued_by(certificate, anchor, min_bits):
            yield [anchor]
    for index, ca in enumerate(supplied):
        if index in used or ca in anchors:
            continue
        if _issued_by(certificate, ca, min_bits):
            for rest in _candidate_paths(ca, supplied, anchors, used | {index}, min_bits):
                yield [ca, *rest]


def _validated_path(
    leaf: x509.Certificate,
    supplied: Sequence[x509.Certificate],
    config: JpkiConfig,
    now: datetime,
) -> list[x509.Certificate]:
    """The first candidate path that passes every check: [leaf, issuer, …, anchor]."""
    first_failure: JpkiError | None = None
    min_bits = config.profile.min_rsa_bits
    for issuers in _candidate_paths(leaf, supplied, config.anchors, frozenset(), min_bits):
        path = [leaf, *issuers]
        try:
            _check_path(path, config, now)
        except JpkiError as failure:
            first_failure = first_failure or failure
            continue
        return path
    raise first_failure or _refuse("jpki_certificate_untrusted")


def _check_path(path: Sequence[x509.Certificate], config: JpkiConfig, now: datetime) -> None:
    for certificate in path:
        for extension in certificate.extensions:
            if extension.critical and extension.oid not in _PROCESSED_EXTENSIONS:
                raise _refuse(
                    "jpki_certificate_untrusted",
                    "an unsupported critical extension",
                    "未対応の重要な拡張",
                )
    for position, ca in enumerate(path[1:], start=1):
        constraints = _extension(ca, x509.BasicConstraints)
        if constraints is None or not constraints.ca:
            raise _refuse(
                "jpki_certificate_untrusted", "issuer is not a CA", "発行者が認証局でない"
            )
        if constraints.path_length is not None and position - 1 > constraints.path_length:
            raise _refuse("jpki_certificate_untrusted", "path length", "パス長制約")
        usage = _extension(ca, x509.KeyUsage)
        if usage is not None and not usage.key_cert_sign:
            raise _refuse("jpki_certificate_untrusted", "issuer key usage", "発行者の鍵用途")
    skew = config.clock_skew
    for certificate in path:
        if not (
            certificate.not_valid_before_utc - skew <= now <= certificate.not_valid_after_utc + skew
        ):
            raise _refuse("jpki_certificate_expired")


# --- Revocation ------------------------------------------------------------------------------


def _crl_bytes(source: CRLSource, limit: int) -> bytes | None:
    if isinstance(source, StaticCRL):
        data = source.data
    else:
        try:
            data = source.fetch(source.url)
        except Exception:  # the caller's fetcher: any failure is "no CRL here" (fail closed)
            return None
    if not isinstance(data, bytes) or not data or len(data) > limit:
        return None
    return data


def _load_crl(data: bytes) -> x509.CertificateRevocationList | None:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(data)
            _check_signed_shape(crl.public_bytes(Encoding.DER), certificate=False)
        else:
            _check_signed_shape(data, certificate=False)
            crl = x509.load_der_x509_crl(data)
        _ = (crl.issuer, crl.extensions, crl.signature_algorithm_oid)
        _ = (crl.last_update_utc, crl.next_update_utc)
    except _PARSE_ERRORS:
        return None
    return crl


def _distribution_point_names(
    full_name: Sequence[x509.GeneralName] | None,
    relative_name: x509.RelativeDistinguishedName | None,
    issuer: x509.Name,
) -> list[x509.GeneralName]:
    if full_name is not None:
        return list(full_name)
    if relative_name is not None:
        return [x509.DirectoryName(x509.Name([*issuer.rdns, relative_name]))]
    return []


def _crl_covers(crl: x509.CertificateRevocationList, leaf: x509.Certificate) -> bool:
    """RFC 5280 §6.3.3 (b): does this (possibly partitioned) CRL speak for the leaf?"""
    try:
        idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return True  # a complete CRL of the issuer
    if (
        idp.only_contains_ca_certs
        or idp.only_contains_attribute_certs
        or idp.indirect_crl
        or idp.only_some_reasons is not None
    ):
        return False
    scope = _distribution_point_names(idp.full_name, idp.relative_name, crl.issuer)
    if not scope:
        return True
    points = _extension(leaf, x509.CRLDistributionPoints)
    for point in points or ():
        if point.crl_issuer is not None:
            continue
        names = _distribution_point_names(point.full_name, point.relative_name, leaf.issuer)
        if any(name == wanted for name in names for wanted in scope):
            return True
    return False


def _crl_problem(
    crl: x509.CertificateRevocationList,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    config: JpkiConfig,
    now: datetime,
) -> tuple[int, str, str] | None:
    """Why this CRL cannot decide the leaf's status (rank, en, ja), or None if it can."""
    if crl.issuer != leaf.issuer:
        return (0, "no CRL of the issuing CA", "発行元認証局の CRL がありません")
    key = _signed_by(crl.signature_algorithm_oid, issuer, config.profile.min_rsa_bits)
    usage = _extension(issuer, x509.KeyUsage)
    valid = False
    if key is not None and (usage is None or usage.crl_sign):
        try:
            valid = crl.is_signature_valid(key)
        except _PARSE_ERRORS:
            valid = False
    if not valid:
        return (1, "the CRL signature does not verify", "CRL の署名を検証できません")
    for extension in crl.extensions:
        unsupported = extension.oid not in _PROCESSED_CRL_EXTENSIONS
        if extension.oid == ExtensionOID.DELTA_CRL_INDICATOR or (
            extension.critical and unsupported
        ):
            return (2, "unsupported CRL", "未対応の CRL です")
    skew = config.clock_skew
    this_update = crl.last_update_utc
    next_update = crl.next_update_utc
    if (
        next_update is None
        or this_update > now + skew
        or now > next_update + skew
        or now - this_update > config.max_crl_age + skew
    ):
        return (3, "the CRL is out of date", "CRL が古くなっています")
    if not _crl_covers(crl, leaf):
        return (2, "no CRL covers this certificate", "この証明書を対象とする CRL がありません")
    return None


def _check_revocation(
    leaf: x509.Certificate, issuer: x509.Certificate, config: JpkiConfig, now: datetime
) -> None:
    usable: list[x509.CertificateRevocationList] = []
    problem = (-1, "no CRL configured or obtained", "CRL を取得できません")
    for source in config.crl_sources:
        data = _crl_bytes(source, config.max_crl_bytes)
        crl = None if data is None else _load_crl(data)
        if crl is None:
            continue
        found = _crl_problem(crl, leaf, issuer, config, now)
        if found is None:
            usable.append(crl)
        elif found[0] > problem[0]:
            problem = found
    if not usable:
        raise _refuse("jpki_crl_unavailable", problem[1], problem[2])
    for crl in usable:
        try:
            entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
        except _PARSE_ERRORS:  # a signed CRL with a bad entry: the CA's fault, still no answer
            raise _refuse(
                "jpki_crl_unavailable", "unreadable CRL", "CRL を読み取れません"
            ) from None
        if entry is not None:
            raise _refuse("jpki_certificate_revoked")


# --- The attributes --------------------------------------------------------------------------


def _missing(detail_en: str, detail_ja: str) -> JpkiError:
    return _refuse("jpki_attributes_missing", detail_en, detail_ja)


def _text(value: bytes, profile: JpkiProfile) -> str:
    """An otherName value as text (ValueError if not one of the profile's string types)."""
    tag, content = _der_value(value)
    if tag not in profile.string_tags:
        raise ValueError("unexpected string type")
    if tag == PRINTABLE_STRING:
        text = content.decode("ascii")
        if not _PRINTABLE.fullmatch(text):
            raise ValueError("not a PrintableString")
    else:
        text = content.decode("utf-8")
    if not text or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise ValueError("empty or control characters")
    return text


def _read_identity(leaf: x509.Certificate, profile: JpkiProfile) -> ProvenIdentity:
    names = _extension(leaf, x509.SubjectAlternativeName)
    values: dict[str, list[bytes]] = {}
    for other in names.get_values_for_type(x509.OtherName) if names is not None else ():
        values.setdefault(other.type_id.dotted_string, []).append(other.value)

    def read(oid: str | None, what_en: str, what_ja: str, required: bool) -> str | None:
        if oid is None:
            return None
        found = values.get(oid, [])
        if not found:
            if required:
                raise _missing(f"{what_en} missing", f"{what_ja}がありません")
            return None
        if len(found) > 1:
            raise _missing(f"{what_en} repeated", f"{what_ja}が重複しています")
        try:
            return _text(found[0], profile)
        except (ValueError, UnicodeDecodeError):
            raise _missing(f"{what_en} unreadable", f"{what_ja}を読み取れません") from None

    name = read(profile.name_oid, "name", "氏名", True) or ""
    birth = read(profile.birth_date_oid, "birth date", "生年月日", True) or ""
    address = read(profile.address_oid, "address", "住所", True) or ""
    gender_code = read(profile.gender_oid, "gender", "性別", profile.gender_required)
    name_map = read(profile.name_substitution_oid, "name character map", "氏名代替文字情報", False)
    address_map = read(
        profile.address_substitution_oid, "address character map", "住所代替文字情報", False
    )

    if len(name) > profile.max_name_chars:
        raise _missing("name too long", "氏名が長すぎます")
    if len(address) > profile.max_address_chars:
        raise _missing("address too long", "住所が長すぎます")
    for position_map, limit in ((name_map, profile.max_name_chars), (address_map, 1000)):
        if position_map is not None and (
            len(position_map) > limit or position_map.strip("01") != ""
        ):
            raise _missing("substitute character map", "代替文字情報")

    match = _BIRTH_DATE.fullmatch(birth)
    if match is None or match.group(1) not in profile.birth_date_eras:
        raise _missing("birth date unknown or unreadable", "生年月日が不明または読み取れません")
    try:
        birth_date = date(int(match.group(2)), int(match.group(3)), int(match.group(4)))
    except ValueError:
        raise _missing("birth date unreadable", "生年月日を読み取れません") from None

    gender: str | None = None
    if gender_code is not None:
        mapping = dict(profile.gender_values)
        if gender_code not in mapping:
            raise _missing("gender unreadable", "性別を読み取れません")
        gender = mapping[gender_code]

    return ProvenIdentity(
        method=METHOD, name=name, birth_date=birth_date, address=address, gender=gender
    )


__all__ = [
    "CHALLENGE_SIZE",
    "OID_ADDRESS",
    "OID_ADDRESS_SUBSTITUTION",
    "OID_BIRTH_DATE",
    "OID_GENDER",
    "OID_NAME",
    "OID_NAME_SUBSTITUTION",
    "POLICY_SIGNING_CARD",
    "PRINTABLE_STRING",
    "UTF8_STRING",
    "CRLSource",
    "FetchedCRL",
    "JpkiConfig",
    "JpkiError",
    "JpkiProfile",
    "StaticCRL",
    "new_challenge",
    "verify_signature",
]
