"""The JPKI provider (issuer/identity/jpki.py) against a test CA of the JPKI shape.

Every refusal code has its cases, one table row each; a real CA and real signatures throughout
(issuer/identity/testpki.py), never a stub.  Keys are made once per module.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.identity import IdentityError, ProvenIdentity, person_key
from issuer.identity.jpki import (
    CHALLENGE_SIZE,
    OID_ADDRESS,
    OID_ADDRESS_SUBSTITUTION,
    OID_BIRTH_DATE,
    OID_GENDER,
    OID_NAME,
    OID_NAME_SUBSTITUTION,
    PRINTABLE_STRING,
    UTF8_STRING,
    CRLSource,
    FetchedCRL,
    JpkiConfig,
    JpkiError,
    JpkiProfile,
    StaticCRL,
    new_challenge,
    verify_signature,
)
from issuer.identity.testpki import (
    CA,
    DISTRIBUTION_POINT,
    HANAKO,
    KAORU,
    NOW,
    OTHER_DISTRIBUTION_POINT,
    POLICY_AUTHENTICATION,
    TARO,
    Card,
    Person,
    TestPKI,
    jpki_name,
    new_key,
    other_name,
    root_ca,
)

CHALLENGE = bytes(range(CHALLENGE_SIZE))
PEM = serialization.Encoding.PEM
DAY = timedelta(days=1)
CODES = {
    "jpki_signature_invalid",
    "jpki_certificate_untrusted",
    "jpki_certificate_expired",
    "jpki_certificate_revoked",
    "jpki_crl_unavailable",
    "jpki_certificate_malformed",
    "jpki_wrong_certificate_type",
    "jpki_attributes_missing",
}


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI.create()


@dataclass(frozen=True)
class Attempt:
    """One call of verify_signature; a case changes what it needs with ``replace``."""

    card: Card
    anchors: tuple[bytes, ...]
    crls: tuple[CRLSource, ...]
    chain: tuple[bytes, ...] = ()
    challenge: bytes = CHALLENGE
    signature: bytes | None = None  # None: the card signs the challenge
    certificate: bytes | None = None  # None: the card's certificate
    profile: JpkiProfile = field(default_factory=JpkiProfile)
    options: Mapping[str, Any] = field(default_factory=dict)  # other JpkiConfig fields
    now: datetime = NOW

    def config(self) -> JpkiConfig:
        return JpkiConfig(self.anchors, self.crls, profile=self.profile, **self.options)

    def run(self) -> ProvenIdentity:
        signature = self.signature if self.signature is not None else self.card.sign(CHALLENGE)
        certificate = self.certificate if self.certificate is not None else self.card.der
        return verify_signature(
            self.challenge,
            signature,
            certificate,
            self.chain,
            config=self.config(),
            now=self.now,
        )


def attempt(pki: TestPKI, card: Card | None = None, **changes: Any) -> Attempt:
    """The happy attempt (HANAKO's card, the root as anchor, a current CRL, the intermediate
    sent along), changed by ``changes``."""
    base = Attempt(
        card=card or pki.leaf(),
        anchors=(pki.root.pem,),
        crls=(StaticCRL(pki.intermediate.crl()),),
        chain=(pki.intermediate.der,),
    )
    return replace(base, **changes)


def refused(run: Callable[[], object], code: str) -> JpkiError:
    """``run`` raises a JpkiError with ``code``, bilingual, and without personal data."""
    with pytest.raises(JpkiError) as info:
        run()
    error = info.value
    assert error.code == code, error.message_en
    assert isinstance(error, IdentityError)
    assert error.message_en
    assert error.message_ja
    for person in (HANAKO, TARO, KAORU):
        for secret in (person.name, person.address, person.birth_date):
            assert secret not in error.message_en + error.message_ja + repr(error)
    return error


# --- The happy path ----------------------------------------------------------------------------


def test_the_basic_four_are_read_back_exactly(pki: TestPKI) -> None:
    identity = attempt(pki).run()
    assert identity == ProvenIdentity(
        method="jpki",
        name="試験　花子",
        birth_date=date(1980, 12, 31),
        address="東京都試験区検査町一丁目２番３号",
        gender="female",
    )


def test_repr_shows_no_personal_data(pki: TestPKI) -> None:
    identity = attempt(pki).run()
    text = repr(identity) + str(identity)
    assert "jpki" in text
    for secret in ("試験", "花子", "1980", "東京都", "female"):
        assert secret not in text


@pytest.mark.parametrize(
    ("person", "birth_date", "gender"),
    [
        (HANAKO, date(1980, 12, 31), "female"),  # 3 昭和
        (TARO, date(2000, 2, 29), "male"),  # 4 平成
        (KAORU, date(2019, 5, 1), None),  # 5 令和; gender 3 不明
        (Person("明治　一", "118680908", "1", "京都府例示市一番地"), date(1868, 9, 8), "male"),
        (Person("大正　二", "219120730", "2", "奈良県例示市二番地"), date(1912, 7, 30), "female"),
    ],
    ids=["showa-female", "heisei-male", "reiwa-unknown-gender", "meiji", "taisho"],
)
def test_each_era_and_gender(
    pki: TestPKI, person: Person, birth_date: date, gender: str | None
) -> None:
    identity = attempt(pki, pki.leaf(person)).run()
    assert (identity.name, identity.address) == (person.name, person.address)
    assert (identity.birth_date, identity.gender) == (birth_date, gender)


def test_the_same_person_key_as_any_other_provider(pki: TestPKI) -> None:
    identity = attempt(pki).run()
    other = ProvenIdentity("oidc", "試験 花子", date(1980, 12, 31), "elsewhere")
    pepper = secrets.token_bytes(32)
    assert person_key(identity, pepper) == person_key(other, pepper)


Case = Callable[[TestPKI], Attempt]


# Each is HANAKO's card, verified with something changed that must not matter.
ACCEPTED: list[tuple[str, Case]] = [
    ("root-in-chain-too", lambda p: attempt(p, chain=(p.intermediate.der, p.root.der))),
    (
        "unrelated-extra-certificate",
        lambda p: attempt(p, chain=(p.unrelated.der, p.intermediate.der)),
    ),
    ("der-anchor", lambda p: attempt(p, anchors=(p.root.der,))),
    ("two-anchors-in-one-pem", lambda p: attempt(p, anchors=(p.unrelated.pem + p.root.pem,))),
    (
        "intermediate-as-anchor",
        lambda p: attempt(p, anchors=(p.intermediate.der,), chain=()),
    ),
    ("pem-crl", lambda p: attempt(p, crls=(StaticCRL(p.intermediate.crl(pem=True)),))),
    (
        "a-useless-crl-beside-a-good-one",
        lambda p: attempt(
            p,
            crls=(
                StaticCRL(b""),
                StaticCRL(p.intermediate.crl(next_update=NOW - DAY, this_update=NOW - 2 * DAY)),
                StaticCRL(p.root.crl()),
                StaticCRL(p.intermediate.crl()),
            ),
        ),
    ),
    (
        "partitioned-crl-of-this-card",
        lambda p: attempt(p, crls=(StaticCRL(_partitioned_crl(p, DISTRIBUTION_POINT)),)),
    ),
    (
        "within-clock-skew",
        lambda p: attempt(p, p.leaf(not_before=NOW + timedelta(minutes=3))),
    ),
    (
        "sha512-when-allowed",
        lambda p: attempt(
            p,
            signature=p.leaf().sign(CHALLENGE, hashes.SHA512()),
            profile=JpkiProfile(challenge_hashes=("sha256", "sha512")),
        ),
    ),
    (
        "printable-string-when-allowed",
        lambda p: attempt(
            p,
            p.leaf(
                san=_san(HANAKO, birth=other_name(OID_BIRTH_DATE, "319801231", PRINTABLE_STRING))
            ),
            profile=JpkiProfile(string_tags=frozenset({UTF8_STRING, PRINTABLE_STRING})),
        ),
    ),
    (
        "substitute-characters-flagged",
        lambda p: attempt(
            p, p.leaf(san=_san(HANAKO, name_map=other_name(OID_NAME_SUBSTITUTION, "00010")))
        ),
    ),
    ("no-character-maps", lambda p: attempt(p, p.leaf(san=_san(HANAKO)[:4]))),
    (
        "gender-not-required",
        lambda p: attempt(
            p,
            p.leaf(san=_san(HANAKO, gender=None)),
            profile=JpkiProfile(gender_oid=None),
        ),
    ),
]


def _partitioned_crl(
    pki: TestPKI,
    point: x509.GeneralName,
    *,
    revoked: tuple[int, ...] = (),
    ca_certificates_only: bool = False,
) -> bytes:
    """A CRL of the intermediate for one distribution point (an issuingDistributionPoint)."""
    extension = x509.IssuingDistributionPoint(
        full_name=[point],
        relative_name=None,
        only_contains_user_certs=not ca_certificates_only,
        only_contains_ca_certs=ca_certificates_only,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    return pki.intermediate.crl(revoked, extensions=[(extension, True)])


_NOT_GIVEN = other_name("0.0", "")


def _san(
    person: Person,
    *,
    name: x509.OtherName | None = _NOT_GIVEN,
    birth: x509.OtherName | None = _NOT_GIVEN,
    gender: x509.OtherName | None = _NOT_GIVEN,
    address: x509.OtherName | None = _NOT_GIVEN,
    name_map: x509.OtherName | None = _NOT_GIVEN,
) -> list[x509.GeneralName]:
    """The person's otherNames with some replaced (None: left out)."""
    defaults = person.other_names()
    chosen: list[x509.GeneralName | None] = [
        defaults[0] if name is _NOT_GIVEN else name,
        defaults[1] if birth is _NOT_GIVEN else birth,
        defaults[2] if gender is _NOT_GIVEN else gender,
        defaults[3] if address is _NOT_GIVEN else address,
        defaults[4] if name_map is _NOT_GIVEN else name_map,
        defaults[5],
    ]
    return [item for item in chosen if item is not None]


@pytest.mark.parametrize("case", [case for _, case in ACCEPTED], ids=[name for name, _ in ACCEPTED])
def test_accepted(pki: TestPKI, case: Case) -> None:
    identity = case(pki).run()
    assert identity.method == "jpki"
    assert identity.birth_date == date(1980, 12, 31)


def test_a_fetched_crl(pki: TestPKI) -> None:
    asked: list[str] = []
    crl = pki.intermediate.crl()

    def fetch(url: str) -> bytes:
        asked.append(url)
        return crl

    source = FetchedCRL("http://crl.jpki.invalid/sign.crl", fetch)
    assert attempt(pki, crls=(source,)).run().method == "jpki"
    assert asked == ["http://crl.jpki.invalid/sign.crl"]
    assert "fetch" not in repr(source)


# --- Every refusal -----------------------------------------------------------------------------


def _tampered(signature: bytes) -> bytes:
    return bytes([signature[0] ^ 1]) + signature[1:]


def _leaf(**changes: Any) -> Case:
    """A case: HANAKO's card with these changes to the certificate."""
    return lambda p: attempt(p, p.leaf(**changes))


def _san_of(**changes: x509.OtherName | None) -> Case:
    """A case: HANAKO's card with these otherNames replaced (None: left out)."""
    return lambda p: attempt(p, p.leaf(san=_san(HANAKO, **changes)))


def _born(birth_date: str, gender: str = "1") -> Case:
    return lambda p: attempt(p, p.leaf(Person("例示　人", birth_date, gender, "東京都例示区")))


def _crl_of(**options: Any) -> Case:
    """A case: the intermediate's CRL made with these options is the only one."""
    return lambda p: attempt(p, crls=(StaticCRL(p.intermediate.crl(**options)),))


def _partition(point: x509.GeneralName, *, ca_certificates_only: bool = False) -> Case:
    crl = functools.partial(
        _partitioned_crl, point=point, ca_certificates_only=ca_certificates_only
    )
    return lambda p: attempt(p, crls=(StaticCRL(crl(p)),))


def _signed(**options: Any) -> Case:
    """A case: the card signs the challenge with these options."""
    return lambda p: attempt(p, signature=p.leaf().sign(CHALLENGE, **options))


UNKNOWN_CRITICAL = x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")
CRITICAL_EKU = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
PSS = padding.PSS(padding.MGF1(hashes.SHA256()), 32)
NOT_A_CA = x509.BasicConstraints(ca=False, path_length=None)
AUTHENTICATION_USAGE = ("digital_signature",)


def _full_chain(p: TestPKI) -> tuple[bytes, ...]:
    return (p.intermediate.der, p.root.der)


def _bare(p: TestPKI) -> Card:
    return p.leaf(distribution_point=None)


def _issued_under(**options: Any) -> Case:
    """A case: HANAKO's card under another CA of the intermediate's name, made with these
    options, sent along with its CRL."""
    return lambda p: _under(p, p.root.sub_ca(p.intermediate.name, p.wrong_key, **options))


def _cases() -> list[tuple[str, str, Case]]:
    w = "jpki_wrong_certificate_type"
    m = "jpki_certificate_malformed"
    s = "jpki_signature_invalid"
    u = "jpki_certificate_untrusted"
    e = "jpki_certificate_expired"
    r = "jpki_certificate_revoked"
    c = "jpki_crl_unavailable"
    a = "jpki_attributes_missing"
    return [
        # The signature over the challenge.
        (s, "tampered-challenge", lambda p: attempt(p, challenge=bytes(32))),
        (s, "tampered-signature", lambda p: attempt(p, signature=_tampered(p.leaf().sign(CHALLENGE)))),
        (s, "other-cards-key", lambda p: attempt(p, signature=p.leaf(key=p.other_card_key).sign(CHALLENGE))),
        (s, "empty-signature", lambda p: attempt(p, signature=b"")),
        (s, "truncated-signature", lambda p: attempt(p, signature=p.leaf().sign(CHALLENGE)[:-1])),
        (s, "oversize-signature", lambda p: attempt(p, signature=bytes(4096))),
        (s, "sha384-not-allowed", _signed(algorithm=hashes.SHA384())),
        (s, "sha1", _signed(algorithm=hashes.SHA1())),
        (s, "pss", lambda p: attempt(p, signature=p.card_key.sign(CHALLENGE, PSS, hashes.SHA256()))),
        # The chain.
        (u, "unrelated-ca", lambda p: attempt(p, p.leaf(issuer=p.unrelated), chain=(p.unrelated.der,))),
        (u, "intermediate-not-sent", lambda p: attempt(p, chain=())),
        (u, "chain-not-ending-in-an-anchor", lambda p: attempt(p, anchors=(p.unrelated.pem,), chain=_full_chain(p))),
        (u, "forged-issuer-signature", lambda p: attempt(p, p.leaf(signer=p.wrong_key))),
        (u, "issuer-not-a-ca", _issued_under(basic_constraints=NOT_A_CA)),
        (u, "issuer-without-basic-constraints", _issued_under(basic_constraints=None)),
        (u, "issuer-without-key-cert-sign", _issued_under(usage=("crl_sign",))),
        (u, "path-length-exceeded", lambda p: _path_length_case(p)),
        (u, "unknown-critical-extension", _leaf(extra=[(UNKNOWN_CRITICAL, True)])),
        (u, "critical-eku", _leaf(extra=[(CRITICAL_EKU, True)])),
        # Validity.
        (e, "expired-leaf", _leaf(not_before=NOW - 400 * DAY, not_after=NOW - DAY)),
        (e, "leaf-not-yet-valid", _leaf(not_before=NOW + DAY)),
        (e, "expired-intermediate", _issued_under(not_after=NOW - DAY)),
        (e, "verified-later", lambda p: attempt(p, now=NOW + 6 * 365 * DAY)),
        # Revocation.
        (r, "revoked", lambda p: _revoked(p)),
        (r, "on-hold", lambda p: _revoked(p, reason=x509.ReasonFlags.certificate_hold)),
        (r, "revoked-on-its-partition", lambda p: _revoked_partitioned(p)),
        (c, "no-crl-configured", lambda p: attempt(p, crls=())),
        (c, "crl-signed-by-wrong-key", lambda p: attempt(p, crls=(StaticCRL(p.intermediate.crl(signer=p.wrong_key)),))),
        (c, "stale-crl", _crl_of(this_update=NOW - 3 * DAY, next_update=NOW - DAY)),
        (c, "crl-older-than-max-age", _crl_of(this_update=NOW - 3 * DAY, next_update=NOW + DAY)),
        (c, "crl-from-the-future", _crl_of(this_update=NOW + DAY, next_update=NOW + 2 * DAY)),
        (c, "crl-of-another-ca", lambda p: attempt(p, crls=(StaticCRL(p.root.crl()),))),
        (c, "crl-garbage", lambda p: attempt(p, crls=(StaticCRL(b"\x30\x03\x02\x01\x00"),))),
        (c, "crl-oversize", lambda p: attempt(p, options={"max_crl_bytes": 100})),
        (c, "fetch-fails", lambda p: attempt(p, crls=(FetchedCRL("http://crl.invalid/", _unreachable),))),
        (c, "delta-crl", _crl_of(extensions=[(x509.DeltaCRLIndicator(1), True)])),
        (c, "partition-of-other-cards", _partition(OTHER_DISTRIBUTION_POINT)),
        (c, "partition-of-ca-certificates", _partition(DISTRIBUTION_POINT, ca_certificates_only=True)),
        (c, "partition-but-card-without-point", lambda p: replace(_partition(DISTRIBUTION_POINT)(p), card=_bare(p))),
        (c, "crl-issuer-without-crl-sign", _issued_under(usage=("key_cert_sign",))),
        # Parsing and size.
        (m, "empty", lambda p: attempt(p, certificate=b"")),
        (m, "garbage", lambda p: attempt(p, certificate=b"not a certificate")),
        (m, "pem-instead-of-der", lambda p: attempt(p, certificate=p.leaf().certificate.public_bytes(PEM))),
        (m, "truncated", lambda p: attempt(p, certificate=p.leaf().der[:-10])),
        (m, "trailing-bytes", lambda p: attempt(p, certificate=p.leaf().der + b"\x00")),
        (m, "oversize", lambda p: attempt(p, certificate=p.leaf().der + bytes(20000))),
        (m, "chain-garbage", lambda p: attempt(p, chain=(b"\x30\x00",))),
        (m, "chain-too-long", lambda p: attempt(p, chain=(p.intermediate.der,) * 5)),
        # The kind of certificate.
        (w, "ca-certificate-as-leaf", lambda p: attempt(p, Card(p.intermediate.certificate, p.intermediate.key))),
        (w, "authentication-certificate", _leaf(usage=AUTHENTICATION_USAGE, policies=(POLICY_AUTHENTICATION,), san=[])),
        (w, "digital-signature-only", _leaf(usage=("digital_signature",))),
        (w, "no-key-usage", _leaf(usage=None)),
        (w, "key-usage-cert-sign", _leaf(usage=("digital_signature", "content_commitment", "key_cert_sign"))),
        (w, "no-policy", _leaf(policies=())),
        (w, "other-policy", _leaf(policies=("1.2.392.200149.8.5.1.1.99",))),
        (w, "rsa-1024", lambda p: attempt(p, p.leaf(key=_small_key()))),
        # The attributes.
        (a, "no-subject-alt-name", _leaf(san=[])),
        (a, "no-name", _san_of(name=None)),
        (a, "no-birth-date", _san_of(birth=None)),
        (a, "no-address", _san_of(address=None)),
        (a, "no-gender", _san_of(gender=None)),
        (a, "era-unknown", _born("019800101")),
        (a, "date-unknown", _born("400000000")),
        (a, "impossible-date", _born("419990231")),
        (a, "full-width-digit", _born("41999010１")),
        (a, "gregorian-without-era", _born("19991231")),
        (a, "unknown-gender-code", _born("319801231", gender="9")),
        (a, "address-as-gender", _san_of(gender=other_name(OID_GENDER, "東京都"))),
        (a, "empty-name", _san_of(name=other_name(OID_NAME, ""))),
        (a, "name-twice", lambda p: attempt(p, p.leaf(san=[*_san(HANAKO), other_name(OID_NAME, "別人　名")]))),
        (a, "printable-string-name", _san_of(name=other_name(OID_NAME, "TEST HANAKO", PRINTABLE_STRING))),
        (a, "octet-string-name", _san_of(name=other_name(OID_NAME, "x", 0x04))),
        (a, "bad-utf8", _san_of(name=other_name(OID_NAME, b"\xff\xfe"))),
        (a, "control-character", _san_of(name=other_name(OID_NAME, "試験\x00花子"))),
        (a, "address-too-long", _san_of(address=other_name(OID_ADDRESS, "東" * 201))),
        (a, "character-map-not-binary", _san_of(name_map=other_name(OID_NAME_SUBSTITUTION, "00a00"))),
    ]  # fmt: skip


def _under(pki: TestPKI, ca: CA) -> Attempt:
    """HANAKO's card issued by ``ca`` (a CA of the test PKI under the root)."""
    return attempt(pki, pki.leaf(issuer=ca), chain=(ca.der,), crls=(StaticCRL(ca.crl()),))


def _path_length_case(pki: TestPKI) -> Attempt:
    root = root_ca(jpki_name("Len", cn="Root with path length 0"), pki.wrong_key, path_length=0)
    ca = root.sub_ca(jpki_name("Len", cn="Too deep"), pki.other_card_key)
    return replace(_under(pki, ca), anchors=(root.pem,))


def _revoked(pki: TestPKI, reason: x509.ReasonFlags | None = None) -> Attempt:
    card = pki.leaf()
    other = pki.leaf(TARO)
    crl = pki.intermediate.crl((other.certificate.serial_number, card.certificate.serial_number))
    if reason is not None:
        crl = pki.intermediate.crl((card.certificate.serial_number,), reason=reason)
    return attempt(pki, card, crls=(StaticCRL(crl),))


def _revoked_partitioned(pki: TestPKI) -> Attempt:
    card = pki.leaf()
    listing = _partitioned_crl(pki, DISTRIBUTION_POINT, revoked=(card.certificate.serial_number,))
    crls = (StaticCRL(pki.intermediate.crl()), StaticCRL(listing))
    return attempt(pki, card, crls=crls)


def _unreachable(url: str) -> bytes:
    raise OSError(f"cannot reach {url}")


@functools.cache
def _small_key() -> rsa.RSAPrivateKey:
    return new_key(1024)


CASES = _cases()


def test_every_code_has_cases() -> None:
    assert {code for code, _, _ in CASES} == CODES


@pytest.mark.parametrize(
    ("code", "case"), [(code, case) for code, _, case in CASES], ids=[name for _, name, _ in CASES]
)
def test_refused(pki: TestPKI, code: str, case: Case) -> None:
    error = refused(case(pki).run, code)
    expected_status = 503 if code == "jpki_crl_unavailable" else 400
    assert error.http_status == expected_status


def test_a_crl_source_that_is_unavailable_is_said_so(pki: TestPKI) -> None:
    error = refused(attempt(pki, crls=()).run, "jpki_crl_unavailable")
    assert "CRL" in error.message_en
    stale = StaticCRL(pki.intermediate.crl(this_update=NOW - 3 * DAY, next_update=NOW - DAY))
    error = refused(attempt(pki, crls=(stale,)).run, "jpki_crl_unavailable")
    assert "out of date" in error.message_en
    forged = StaticCRL(pki.intermediate.crl(signer=pki.wrong_key))
    error = refused(attempt(pki, crls=(forged,)).run, "jpki_crl_unavailable")
    assert "signature" in error.message_en


def test_max_crl_age_is_configurable(pki: TestPKI) -> None:
    weekly = StaticCRL(pki.intermediate.crl(this_update=NOW - 3 * DAY, next_update=NOW + 4 * DAY))
    refused(attempt(pki, crls=(weekly,)).run, "jpki_crl_unavailable")
    relaxed = attempt(pki, crls=(weekly,), options={"max_crl_age": timedelta(days=7)})
    assert relaxed.run().method == "jpki"


def test_clock_skew_is_configurable(pki: TestPKI) -> None:
    card = pki.leaf(not_before=NOW + timedelta(minutes=3))
    refused(
        attempt(pki, card, options={"clock_skew": timedelta(0)}).run, "jpki_certificate_expired"
    )


# --- The challenge and the configuration --------------------------------------------------------


def test_new_challenge_takes_its_randomness_from_the_caller() -> None:
    assert new_challenge(lambda n: b"\x07" * n) == b"\x07" * CHALLENGE_SIZE
    assert len(new_challenge(secrets.token_bytes)) == 32
    with pytest.raises(ValueError, match="bytes"):
        new_challenge(lambda n: b"short")


def test_misuse_by_the_issuer_is_a_value_error(pki: TestPKI) -> None:
    with pytest.raises(ValueError, match="timezone"):
        attempt(pki, now=NOW.replace(tzinfo=None)).run()
    with pytest.raises(ValueError, match="challenge"):
        attempt(pki, challenge=b"1234").run()


BAD_CONFIGURATIONS: list[tuple[str, Callable[[TestPKI], object]]] = [
    ("no-anchor", lambda p: JpkiConfig((), ())),
    ("bad-anchor", lambda p: JpkiConfig((b"not a certificate",), ())),
    ("negative-skew", lambda p: JpkiConfig((p.root.der,), (), clock_skew=timedelta(seconds=-1))),
    ("zero-crl-age", lambda p: JpkiConfig((p.root.der,), (), max_crl_age=timedelta(0))),
    ("sha1", lambda p: JpkiProfile(challenge_hashes=("sha1",))),
    ("cert-sign-usage", lambda p: JpkiProfile(key_usage=frozenset({"key_cert_sign"}))),
    ("octet-string-tag", lambda p: JpkiProfile(string_tags=frozenset({0x04}))),
    ("rsa-1024", lambda p: JpkiProfile(min_rsa_bits=1024)),
]


@pytest.mark.parametrize(
    "make", [make for _, make in BAD_CONFIGURATIONS], ids=[name for name, _ in BAD_CONFIGURATIONS]
)
def test_a_bad_configuration_is_refused_at_startup(
    pki: TestPKI, make: Callable[[TestPKI], object]
) -> None:
    with pytest.raises(ValueError):
        make(pki)


# --- Properties: arbitrary input only ever gives an IdentityError -------------------------------

FUZZ = settings(max_examples=60, deadline=None)


@pytest.fixture(scope="module")
def card(pki: TestPKI) -> Card:
    return pki.leaf()


@pytest.fixture(scope="module")
def crl(pki: TestPKI) -> bytes:
    return pki.intermediate.crl((12345, 67890))


def _error_of(run: Callable[[], object]) -> IdentityError | None:
    """The IdentityError ``run`` raises, or None if it succeeds (anything else propagates)."""
    try:
        run()
    except IdentityError as error:
        return error
    return None


def _only_identity_errors(run: Callable[[], object]) -> None:
    error = _error_of(run)
    assert error is not None, "arbitrary input was accepted"
    assert error.code in CODES
    assert error.message_en
    assert error.message_ja


@FUZZ
@given(data=st.binary(max_size=3000))
def test_arbitrary_certificate(pki: TestPKI, data: bytes) -> None:
    _only_identity_errors(attempt(pki, certificate=data).run)


@FUZZ
@given(data=st.binary(max_size=600))
def test_arbitrary_signature(pki: TestPKI, data: bytes) -> None:
    _only_identity_errors(attempt(pki, signature=data).run)


@FUZZ
@given(data=st.lists(st.binary(max_size=2000), max_size=6))
def test_arbitrary_chain(pki: TestPKI, data: list[bytes]) -> None:
    error = _error_of(attempt(pki, chain=(pki.intermediate.der, *data)).run)
    assert error is None or error.code in CODES  # extra certificates may be ignored


@FUZZ
@given(data=st.binary(max_size=3000))
def test_arbitrary_crl(pki: TestPKI, data: bytes) -> None:
    _only_identity_errors(attempt(pki, crls=(StaticCRL(data),)).run)


@FUZZ
@given(data=st.data())
def test_any_change_to_a_valid_certificate_is_refused(
    pki: TestPKI, card: Card, data: st.DataObject
) -> None:
    original = card.der
    index = data.draw(st.integers(0, len(original) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = original[:index] + bytes([original[index] ^ flip]) + original[index + 1 :]
    _only_identity_errors(attempt(pki, card, certificate=changed).run)


@FUZZ
@given(data=st.data())
def test_any_change_to_a_valid_crl_is_refused(
    pki: TestPKI, card: Card, crl: bytes, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(crl) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = crl[:index] + bytes([crl[index] ^ flip]) + crl[index + 1 :]
    error = _error_of(attempt(pki, card, crls=(StaticCRL(changed),)).run)
    # Whatever byte changes, the signature no longer verifies: the CRL is unusable.
    assert error is not None, "a changed CRL was used"
    assert error.code == "jpki_crl_unavailable"


def test_the_profile_oids_are_the_published_ones() -> None:
    # issuer/identity/jpki.py's docstring gives the sources of these.
    assert OID_NAME == "1.2.392.200149.8.5.5.1"
    assert OID_NAME_SUBSTITUTION == "1.2.392.200149.8.5.5.2"
    assert OID_GENDER == "1.2.392.200149.8.5.5.3"
    assert OID_BIRTH_DATE == "1.2.392.200149.8.5.5.4"
    assert OID_ADDRESS == "1.2.392.200149.8.5.5.5"
    assert OID_ADDRESS_SUBSTITUTION == "1.2.392.200149.8.5.5.6"
