"""A test CA minting certificates of the JPKI shape — for tests and ``furusato-issuer demo``;
nothing here is J-LIS's, and no deployment trusts it unless its root is configured as a JPKI
trust anchor (``FURUSATO_JPKI_ANCHORS``), which only the demo and the tests do.

A root and an intermediate 署名用 CA, and leaves shaped like the My Number Card's
署名用電子証明書 (issuer/identity/jpki.py documents the profile and its sources): keyUsage
digitalSignature + nonRepudiation (critical), certificatePolicies 1.2.392.200149.8.5.1.1.20
(critical), the 基本4情報 as subjectAltName otherNames (UTF8String in ``[0] EXPLICIT``), an
issuerAltName, a directoryName CRL distribution point.  Every person, address and name is
invented.  :class:`Card` signs a challenge as the card would (RSASSA-PKCS1-v1_5, SHA-256).

RSA keys are slow to make, so :meth:`TestPKI.create` makes them once; tests keep one TestPKI per
module and mint as many certificates and CRLs from it as they like (milliseconds each).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from issuer.identity.jpki import (
    OID_ADDRESS,
    OID_ADDRESS_SUBSTITUTION,
    OID_BIRTH_DATE,
    OID_GENDER,
    OID_NAME,
    OID_NAME_SUBSTITUTION,
    POLICY_SIGNING_CARD,
    UTF8_STRING,
)

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
POLICY_AUTHENTICATION = "1.2.392.200149.8.5.1.3.30"  # 利用者証明用 (not a signing certificate)
SIGNING_USAGE = ("digital_signature", "content_commitment")
CA_USAGE = ("key_cert_sign", "crl_sign")
CA_CONSTRAINTS = x509.BasicConstraints(ca=True, path_length=None)
CertificateHash = hashes.SHA256 | hashes.SHA384 | hashes.SHA512


def der(tag: int, content: bytes) -> bytes:
    """One DER TLV (definite length)."""
    if len(content) < 0x80:
        return bytes([tag, len(content)]) + content
    size = len(content).to_bytes((len(content).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def other_name(oid: str, text: str | bytes, tag: int = UTF8_STRING) -> x509.OtherName:
    """A subjectAltName otherName whose value is a string of ``tag`` (UTF8String by default)."""
    content = text.encode("utf-8") if isinstance(text, str) else text
    return x509.OtherName(ObjectIdentifier(oid), der(tag, content))


def key_usage(*bits: str) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
    )
    flags = {name: name in bits for name in names}
    return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)


def jpki_name(*units: str, cn: str) -> x509.Name:
    """C=JP, O=JPKI-TEST, OU=…, CN=… (the J-LIS names, with a TEST organisation)."""
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
        *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit) for unit in units),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ]
    return x509.Name(attributes)


DISTRIBUTION_POINT = x509.DirectoryName(
    jpki_name("JPKI for digital signature", "CRL Distribution Points", "Tokyo-to", cn="Shiken-ku")
)
OTHER_DISTRIBUTION_POINT = x509.DirectoryName(
    jpki_name("JPKI for digital signature", "CRL Distribution Points", "Osaka-fu", cn="Kensa-shi")
)


@dataclass(frozen=True)
class Person:
    """The 基本4情報 as the card holds them: ``birth_date`` is EYYYYMMDD, ``gender`` 1/2/3."""

    name: str
    birth_date: str
    gender: str
    address: str

    def other_names(self) -> list[x509.GeneralName]:
        """The six otherNames of a J-LIS signing certificate, in a real card's order."""
        return [
            other_name(OID_NAME, self.name),
            other_name(OID_BIRTH_DATE, self.birth_date),
            other_name(OID_GENDER, self.gender),
            other_name(OID_ADDRESS, self.address),
            other_name(OID_NAME_SUBSTITUTION, "0" * len(self.name)),
            other_name(OID_ADDRESS_SUBSTITUTION, "0" * len(self.address)),
        ]


# Invented people (昭和55年12月31日 = 1980-12-31; 平成 and 令和 dates as the card writes them).
HANAKO = Person("試験　花子", "319801231", "2", "東京都試験区検査町一丁目２番３号")
TARO = Person("見本　太郎", "420000229", "1", "大阪府見本市例示町４５６番地")
KAORU = Person("例示　薫", "520190501", "3", "北海道例示郡見本町字試験７８９")


@dataclass(frozen=True)
class Card:
    """A signing certificate with its private key: what the card holds."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey = field(repr=False)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def sign(self, challenge: bytes, algorithm: hashes.HashAlgorithm | None = None) -> bytes:
        """RSASSA-PKCS1-v1_5 over the challenge, as the JPKI card computes it."""
        return self.key.sign(challenge, padding.PKCS1v15(), algorithm or hashes.SHA256())


def sign_certificate(
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    extensions: Iterable[tuple[x509.ExtensionType, bool]],
    *,
    not_before: datetime,
    not_after: datetime,
    algorithm: CertificateHash | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(issuer_key, algorithm or hashes.SHA256())


@dataclass(frozen=True)
class CA:
    """A certification authority of the test PKI."""

    name: x509.Name
    key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        subject: x509.Name,
        public_key: rsa.RSAPublicKey,
        extensions: Iterable[tuple[x509.ExtensionType, bool]],
        *,
        not_before: datetime,
        not_after: datetime,
        signer: rsa.RSAPrivateKey | None = None,
        algorithm: CertificateHash | None = None,
    ) -> x509.Certificate:
        """A certificate issued under this CA's name (signed by ``signer`` to forge one)."""
        return sign_certificate(
            self.name,
            signer or self.key,
            subject,
            public_key,
            extensions,
            not_before=not_before,
            not_after=not_after,
            algorithm=algorithm,
        )

    def sub_ca(
        self,
        name: x509.Name,
        key: rsa.RSAPrivateKey,
        *,
        not_before: datetime = NOW - timedelta(days=2000),
        not_after: datetime = NOW + timedelta(days=2000),
        basic_constraints: x509.BasicConstraints | None = CA_CONSTRAINTS,
        usage: Sequence[str] = CA_USAGE,
    ) -> CA:
        extensions: list[tuple[x509.ExtensionType, bool]] = [(key_usage(*usage), True)]
        if basic_constraints is not None:
            extensions.append((basic_constraints, True))
        certificate = self.issue(
            name, key.public_key(), extensions, not_before=not_before, not_after=not_after
        )
        return CA(name, key, certificate)

    def crl(
        self,
        revoked: Iterable[int] = (),
        *,
        this_update: datetime = NOW - timedelta(hours=6),
        next_update: datetime | None = NOW + timedelta(hours=18),
        signer: rsa.RSAPrivateKey | None = None,
        extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
        reason: x509.ReasonFlags | None = None,
        pem: bool = False,
    ) -> bytes:
        """A CRL in this CA's name listing ``revoked`` serials (signed by ``signer`` to forge)."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.name)
            .last_update(this_update)
            .next_update(next_update or this_update + timedelta(days=1))
            .add_extension(x509.CRLNumber(1), False)
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical)
        for serial in revoked:
            entry = x509.RevokedCertificateBuilder(serial, this_update - timedelta(days=1))
            if reason is not None:
                entry = entry.add_extension(x509.CRLReason(reason), False)
            builder = builder.add_revoked_certificate(entry.build())
        crl = builder.sign(signer or self.key, hashes.SHA256())
        return crl.public_bytes(serialization.Encoding.PEM if pem else serialization.Encoding.DER)


def root_ca(name: x509.Name, key: rsa.RSAPrivateKey, *, path_length: int | None = None) -> CA:
    """A self-signed root."""
    certificate = sign_certificate(
        name,
        key,
        name,
        key.public_key(),
        [(key_usage(*CA_USAGE), True), (x509.BasicConstraints(True, path_length), True)],
        not_before=NOW - timedelta(days=3000),
        not_after=NOW + timedelta(days=3000),
    )
    return CA(name, key, certificate)


def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@dataclass(frozen=True)
class TestPKI:
    """The root, the intermediate 署名用 CA, an unrelated CA, the card keys."""

    root: CA
    intermediate: CA
    unrelated: CA
    card_key: rsa.RSAPrivateKey = field(repr=False)
    other_card_key: rsa.RSAPrivateKey = field(repr=False)
    wrong_key: rsa.RSAPrivateKey = field(repr=False)

    __test__ = False  # not a pytest test class

    @classmethod
    def create(cls) -> TestPKI:
        root = root_ca(jpki_name("JPKI for digital signature", cn="Test Root CA"), new_key())
        intermediate = root.sub_ca(
            jpki_name("JPKI for digital signature", cn="Test Signing CA"), new_key()
        )
        unrelated = root_ca(jpki_name("Elsewhere", cn="Unrelated Test CA"), new_key())
        return cls(root, intermediate, unrelated, new_key(), new_key(), new_key())

    def leaf(
        self,
        person: Person | None = None,
        *,
        issuer: CA | None = None,
        key: rsa.RSAPrivateKey | None = None,
        not_before: datetime = NOW - timedelta(days=30),
        not_after: datetime = NOW + timedelta(days=365 * 5),
        usage: Sequence[str] | None = SIGNING_USAGE,
        policies: Sequence[str] = (POLICY_SIGNING_CARD,),
        san: Sequence[x509.GeneralName] | None = None,
        distribution_point: x509.GeneralName | None = DISTRIBUTION_POINT,
        extra: Iterable[tuple[x509.ExtensionType, bool]] = (),
        signer: rsa.RSAPrivateKey | None = None,
        algorithm: CertificateHash | None = None,
    ) -> Card:
        """A 署名用電子証明書 for ``person`` (default: HANAKO) under ``issuer`` (default: the
        intermediate).  ``san`` replaces the otherNames (``[]``: no subjectAltName)."""
        issuer = issuer or self.intermediate
        key = key or self.card_key
        names = list(san) if san is not None else (person or HANAKO).other_names()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, "Tokyo-to"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, "Shiken-ku"),
                x509.NameAttribute(NameOID.COMMON_NAME, "20250501120000TEST"),
            ]
        )
        extensions: list[tuple[x509.ExtensionType, bool]] = []
        if usage is not None:
            extensions.append((key_usage(*usage), True))
        if policies:
            information = [
                x509.PolicyInformation(ObjectIdentifier(oid), ["https://jpki.invalid/cps"])
                for oid in policies
            ]
            extensions.append((x509.CertificatePolicies(information), True))
        if names:
            extensions.append((x509.SubjectAlternativeName(names), False))
        issuer_alt = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "公的個人認証サービス（試験）"),
            ]
        )
        extensions.append((x509.IssuerAlternativeName([x509.DirectoryName(issuer_alt)]), False))
        if distribution_point is not None:
            point = x509.DistributionPoint([distribution_point], None, None, None)
            extensions.append((x509.CRLDistributionPoints([point]), False))
        extensions.extend(extra)
        certificate = issuer.issue(
            subject,
            key.public_key(),
            extensions,
            not_before=not_before,
            not_after=not_after,
            signer=signer,
            algorithm=algorithm,
        )
        return Card(certificate, key)
