"""The OID4VCI flow through the app in process (both databases): apply → credential."""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient

from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from issuer.resolving import LocalStatusLists, tenant_resolver
from tests.issuer.conftest import World
from tests.issuer.wallet_sim import receive
from vc.verify import VerifyOptions, verify_credential


def test_apply_and_receive(world: World, client: TestClient) -> None:
    response = client.post("/lg/015814/registrations", json={"tier": "basic"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["offerUri"].startswith("openid-credential-offer://?credential_offer_uri=")
    assert body["qrPng"].startswith("data:image/png;base64,")
    key = PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32))
    received = receive(client, body["offerUri"], key)
    credential = received.credential
    assert credential["credentialSubject"]["id"] == did_key_from_public_key(key.public_key)
    assert credential["credentialSubject"]["registrationTier"] == "basic"
    assert credential["issuer"]["id"] == world.tenant.did
    options = VerifyOptions(now=world.svc.clock(), status_lists=LocalStatusLists(world.svc))
    result = verify_credential(credential, resolver=tenant_resolver(world.svc), options=options)
    assert result.verified, result.to_json()


def test_migrations_match_the_models(world: World) -> None:
    """The Alembic history creates exactly the schema the models describe."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from issuer.db import Base

    with world.svc.db.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
