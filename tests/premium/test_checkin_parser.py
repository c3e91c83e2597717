"""Property tests of the check-in QR parser and the location parser (outside data): any input
is either accepted as what we signed or refused with a code — never another exception — and
any change to a signed QR is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from did.multibase import base64url_encode
from issuer import activities
from issuer.activities import CheckinRefused, read_checkin
from tests.issuer.conftest import World
from tests.issuer.conftest import world as world  # the fixture
from tests.properties import JSONISH_TEXT, json_values, outcome

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NOW = datetime.now(UTC)


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    """SQLite only: the parser reads keys, the database makes no difference here."""
    return f"sqlite:///{tmp_path / 'issuer.db'}"


def signed_qr(world: World) -> str:
    with world.svc.db.transaction() as session:
        site = activities.create_site(
            session,
            world.tenant,
            name="公民館",
            category="volunteer",
            latitude=42.7,
            longitude=141.9,
            radius_m=200,
            now=NOW,
            actor="test",
        )
        return activities.checkin_payload(
            session,
            world.svc.ring,
            world.tenant,
            site,
            valid_from=NOW,
            valid_until=NOW + timedelta(hours=1),
        )


def read(world: World, payload: object) -> Any:
    with world.svc.db.read() as session:
        return outcome(read_checkin, session, world.tenant, payload)


def b64(value: Any) -> str:
    return base64url_encode(json.dumps(value).encode())


def test_our_qr_reads_back(world: World) -> None:
    claims = read(world, signed_qr(world))
    assert claims is not None
    assert claims.geofence == (42.7, 141.9, 200)


@SETTINGS
@given(text=st.text(max_size=300) | JSONISH_TEXT.map(lambda t: "FCI1:" + t))
def test_any_text_is_refused_with_a_code(world: World, text: str) -> None:
    assert read(world, text) is None


@SETTINGS
@given(header=json_values(8), claims=json_values(12), signature=st.binary(max_size=80))
def test_any_jws_shape_is_refused_with_a_code(
    world: World, header: Any, claims: Any, signature: bytes
) -> None:
    payload = f"FCI1:{b64(header)}.{b64(claims)}.{base64url_encode(signature)}"
    assert read(world, payload) is None


@SETTINGS
@given(data=st.data())
def test_any_change_to_a_signed_qr_is_refused(world: World, data: st.DataObject) -> None:
    good = signed_qr(world)
    position = data.draw(st.integers(min_value=len("FCI1:"), max_value=len(good) - 1))
    replacement = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    )
    changed = good[:position] + replacement + good[position + 1 :]
    if changed == good:
        return
    result = read(world, changed)
    if result is not None:  # base64url's last character may carry unused bits
        assert base64.urlsafe_b64decode(changed.split(".")[-1] + "==") == base64.urlsafe_b64decode(
            good.split(".")[-1] + "=="
        )


@SETTINGS
@given(value=json_values(6))
def test_any_location_is_parsed_or_refused(value: Any) -> None:
    result = outcome(activities.parse_location, value)
    if result is not None:
        latitude, longitude = result
        assert -90 <= latitude <= 90
        assert -180 <= longitude <= 180


def test_an_empty_jws_is_malformed(world: World) -> None:
    with pytest.raises(CheckinRefused) as refused, world.svc.db.read() as session:
        read_checkin(session, world.tenant, "FCI1:e30.e30.")
    assert refused.value.code == "checkin_malformed"
