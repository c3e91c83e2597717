"""Nothing about a person stays: after full premium flows (the card login and a JPKI card
signature, a refusal, a document upload), the database — every row of every table, and on
SQLite the file's raw bytes — and every log record of the service hold no name, birth date,
address, My Number, provider subject or certificate.

The provider is made to send a My Number too (an ID token claim no deployment should ask
for): it must not stick either.
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import pytest
import segno
from sqlalchemy import MetaData, select

from tests.premium.conftest import CHIYODA, PremiumWorld, Registrant, prove_with_oidc
from tests.premium.oidc_provider import USERS
from tests.premium.test_service_flow import LG, apply, approve, three_checkins

MY_NUMBER = "123456789018"  # invented, with a valid check digit
# loggers of the test's own client and of the provider double: not the service's
FOREIGN_LOGGERS = ("httpx", "httpcore", "authlib", "joserfc", "tests.")


def personal_terms(pw: PremiumWorld, certificate_der: bytes) -> dict[str, str]:
    ichiro, hanako = USERS["ichiro"], USERS["hanako"]
    assert isinstance(ichiro.address, dict)
    return {
        "ichiro name": ichiro.name,
        "ichiro family name": ichiro.name.split()[0],
        "ichiro given name": ichiro.name.split()[1],
        "ichiro birth date": ichiro.birthdate,
        "ichiro birth date digits": ichiro.birthdate.replace("-", ""),
        "ichiro street": ichiro.address["street_address"],
        "ichiro postal code": ichiro.address["postal_code"],
        "ichiro address": ichiro.expected_address,
        "ichiro sub": ichiro.sub,
        "hanako name": hanako.name.split()[0],
        "hanako address": hanako.expected_address,
        "hanako birth date": hanako.birthdate,
        "card name": CHIYODA.name,
        "card family name": CHIYODA.name.split("\u3000")[0],
        "card birth date": CHIYODA.birth_date,
        "card birth date (ISO)": "1980-12-31",
        "card address": CHIYODA.address,
        "card street": "霞が関一丁目",
        "My Number": MY_NUMBER,
        "certificate (base64)": base64.b64encode(certificate_der).decode()[100:160],
        "certificate (hex)": certificate_der[200:240].hex(),
    }


def database_text(pw: PremiumWorld) -> str:
    engine = pw.world.svc.db.engine
    tables = MetaData()
    tables.reflect(engine)
    parts: list[str] = []
    with engine.connect() as connection:
        for table in tables.tables.values():
            for row in connection.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        raw = bytes(value)
                        parts += [raw.decode("utf-8", "replace"), raw.hex(), repr(raw)]
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def test_no_personal_data_in_the_database_or_the_logs(
    premium: PremiumWorld, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    premium.oidc.misbehaviour.claim_overrides = {"my_number": MY_NUMBER}
    # the card login, through to the premium credential
    resident = Registrant.register(premium.url, LG)
    three_checkins(premium, resident)
    application = apply(resident)
    assert prove_with_oidc(application["identityUrl"], "ichiro").status_code == 200
    assert approve(premium, LG, application).status_code == 200
    resident.receive_premium(resident.status(application).json()["offerUri"])
    # a refusal: hanako at her home municipality
    at_home = Registrant.register(premium.url, "011002")
    assert prove_with_oidc(apply(at_home)["identityUrl"], "hanako").status_code == 403
    # a JPKI signature, and a document staff reviewed (an image that shows the name)
    card = premium.card(CHIYODA)
    other = Registrant.register(premium.url, "202118")
    jpki_application = apply(other)
    assert premium.prove_jpki("202118", jpki_application["identityUrl"], card).status_code == 200
    image = io.BytesIO()
    segno.make(f"{CHIYODA.name} {CHIYODA.address}").save(image, kind="png")
    with premium.admin("202118") as admin:
        uploaded = admin.post(
            f"/admin/api/premium/applications/{jpki_application['applicationId']}/documents",
            params={"category": "volunteer", "activityDate": "2026-11-01", "name": "雪かき"},
            content=image.getvalue(),
            headers={"Content-Type": "image/png"},
        )
    assert uploaded.status_code == 201, uploaded.text

    terms = personal_terms(premium, card.der)
    stored = database_text(premium)
    found = {what: term for what, term in terms.items() if term in stored}
    assert not found, f"personal data in the database: {sorted(found)}"
    database_file = premium.world.svc.db.engine.url.database
    if premium.world.svc.db.is_sqlite and database_file:
        raw = b"".join(p.read_bytes() for p in Path(database_file).parent.glob("issuer.db*"))
        in_file = {what for what, term in terms.items() if term.encode() in raw}
        assert not in_file, f"personal data in the SQLite file: {sorted(in_file)}"

    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(FOREIGN_LOGGERS)
    )
    assert any(r.name.startswith("furusato") for r in caplog.records)  # the service did log
    found = {what: term for what, term in terms.items() if term in logged}
    assert not found, f"personal data in the logs: {sorted(found)}"
