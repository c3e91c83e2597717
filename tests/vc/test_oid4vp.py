"""vc.oid4vp: the OpenID4VP 1.0 request URI, DCQL and the direct_post answer (docs/oid4vp.md)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from did.errors import FurusatoError
from did.keys import KeyType, generate_private_key
from vc import oid4vp, sdjwt
from vc.formats import DC_SD_JWT, JWT_VC_JSON, LDP_VC

RESPONSE_URI = "https://nursery.example.jp/oid4vp/response"
NOW = datetime(2027, 4, 1, 9, 0, tzinfo=UTC)


def make(response_uri: str = RESPONSE_URI, **kw: Any) -> oid4vp.AuthorizationRequest:
    return oid4vp.new_request(
        response_uri,
        oid4vp.furusato_dcql_query(**kw),
        random_bytes=secrets.token_bytes,
    )


def params_of(uri: str) -> dict[str, str]:
    return dict(parse_qsl(uri.split("?", 1)[1]))


def uri_of(params: dict[str, str]) -> str:
    return "openid4vp://?" + urlencode(params)


# --- §5 the request by value ----------------------------------------------------------------


def test_request_uri_round_trip() -> None:
    request = make()
    uri = request.to_uri()
    assert uri.startswith("openid4vp://?")
    params = params_of(uri)
    assert params["client_id"] == "redirect_uri:" + RESPONSE_URI
    assert params["response_type"] == "vp_token"
    assert params["response_mode"] == "direct_post"
    assert json.loads(params["dcql_query"]) == request.dcql_query
    assert len(request.nonce) >= 43  # 256 bits
    parsed = oid4vp.parse_request_uri(uri)
    assert parsed == request
    assert parsed.client_id == request.client_id


def test_nonces_come_from_the_callers_rng() -> None:
    a = oid4vp.new_request(RESPONSE_URI, oid4vp.furusato_dcql_query(), random_bytes=bytes)
    assert a.nonce == "A" * 43
    with pytest.raises(oid4vp.InvalidRequestError) as info:
        oid4vp.new_request(RESPONSE_URI, oid4vp.furusato_dcql_query(), random_bytes=lambda n: b"")
    assert info.value.code == "oid4vp_nonce_invalid"


def test_http_only_on_loopback_and_only_when_allowed() -> None:
    local = "http://127.0.0.1:8765/oid4vp/response"
    with pytest.raises(oid4vp.InvalidRequestError):
        make(local)
    request = oid4vp.new_request(
        local,
        oid4vp.furusato_dcql_query(),
        random_bytes=secrets.token_bytes,
        unsafe_allow_http_loopback=True,
    )
    assert oid4vp.parse_request_uri(request.to_uri(), unsafe_allow_http_loopback=True) == request
    with pytest.raises(oid4vp.InvalidRequestError) as info:
        oid4vp.parse_request_uri(request.to_uri())
    assert info.value.code == "oid4vp_response_uri_invalid"
    with pytest.raises(oid4vp.InvalidRequestError):
        oid4vp.check_response_uri("http://192.168.1.5/r", unsafe_allow_http_loopback=True)


def _changed(**changes: str | None) -> str:
    params = params_of(make().to_uri())
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return uri_of(params)


REFUSALS = [
    ("response_type code", {"response_type": "code"}, "oid4vp_unsupported_response_type"),
    ("response_type missing", {"response_type": None}, "oid4vp_unsupported_response_type"),
    ("direct_post.jwt", {"response_mode": "direct_post.jwt"}, "oid4vp_unsupported_response_mode"),
    ("fragment", {"response_mode": "fragment"}, "oid4vp_unsupported_response_mode"),
    ("nonce missing", {"nonce": None}, "oid4vp_nonce_invalid"),
    ("nonce short", {"nonce": "abc"}, "oid4vp_nonce_invalid"),
    ("nonce unsafe chars", {"nonce": "a" * 30 + " +/"}, "oid4vp_nonce_invalid"),
    ("scope and dcql", {"scope": "furusato"}, "oid4vp_query_conflict"),
    ("scope only", {"scope": "furusato", "dcql_query": None}, "oid4vp_scope_unsupported"),
    ("no query", {"dcql_query": None}, "oid4vp_dcql_invalid"),
    ("x509 prefix", {"client_id": "x509_san_dns:nursery.example.jp"}, "oid4vp_client_id_invalid"),
    ("no prefix", {"client_id": RESPONSE_URI}, "oid4vp_client_id_invalid"),
    (
        "client_id other uri",
        {"client_id": "redirect_uri:https://evil.example/r"},
        "oid4vp_client_id_invalid",
    ),
    ("transaction_data", {"transaction_data": "e30"}, "oid4vp_transaction_data_unsupported"),
    ("request_uri", {"request_uri": "https://x.example/r"}, "oid4vp_request_uri_unsupported"),
    ("redirect_uri", {"redirect_uri": "https://x.example/cb"}, "oid4vp_invalid_request"),
    ("presentation_definition", {"presentation_definition": "{}"}, "oid4vp_invalid_request"),
    (
        "http response_uri",
        {"response_uri": "http://nursery.example.jp/r"},
        "oid4vp_response_uri_invalid",
    ),
    ("dcql not json", {"dcql_query": "{"}, "oid4vp_dcql_invalid"),
    ("dcql empty", {"dcql_query": '{"credentials": []}'}, "oid4vp_dcql_invalid"),
    (
        "dcql no meta",
        {"dcql_query": '{"credentials": [{"id": "a", "format": "dc+sd-jwt"}]}'},
        "oid4vp_dcql_invalid",
    ),
    (
        "dcql duplicate ids",
        {
            "dcql_query": json.dumps(
                {"credentials": [{"id": "a", "format": "ldp_vc", "meta": {}}] * 2}
            )
        },
        "oid4vp_dcql_invalid",
    ),
    (
        "dcql bad path",
        {
            "dcql_query": json.dumps(
                {
                    "credentials": [
                        {"id": "a", "format": "ldp_vc", "meta": {}, "claims": [{"path": [-1]}]}
                    ]
                }
            )
        },
        "oid4vp_dcql_invalid",
    ),
]


@pytest.mark.parametrize(("name", "changes", "code"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_section_5_refusals(name: str, changes: dict[str, str | None], code: str) -> None:
    with pytest.raises(oid4vp.InvalidRequestError) as info:
        oid4vp.parse_request_uri(_changed(**changes))
    assert info.value.code == code, name


def test_uri_shape_refusals() -> None:
    good = make().to_uri()
    for bad in (
        "https://x.example/?" + good.split("?", 1)[1],
        good.replace("openid4vp://?", "openid4vp://host?"),
        good + "#frag",
        good + "&nonce=" + "b" * 30,  # a duplicate parameter
        "",
        "openid4vp://?" + "a=" * 9000,
    ):
        with pytest.raises(oid4vp.InvalidRequestError):
            oid4vp.parse_request_uri(bad)


# --- §6 DCQL ---------------------------------------------------------------------------------


def test_dcql_for_each_format() -> None:
    query = oid4vp.furusato_dcql_query([DC_SD_JWT])
    assert query == {
        "credentials": [
            {
                "id": "furusato",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": ["https://w3id.org/furusato/resident"]},
                "claims": [{"path": ["registrationTier"]}, {"path": ["municipality", "lgCode"]}],
            }
        ]
    }
    both = oid4vp.furusato_dcql_query()
    assert [q["format"] for q in both["credentials"]] == [DC_SD_JWT, JWT_VC_JSON, LDP_VC]
    ldp = both["credentials"][2]
    assert ldp["meta"] == {
        "type_values": [
            [
                "https://www.w3.org/2018/credentials#VerifiableCredential",
                "https://w3id.org/furusato#FurusatoResidentCredential",
            ]
        ]
    }
    assert ldp["claims"][1]["path"] == ["credentialSubject", "municipality", "lgCode"]
    assert both["credential_sets"] == [
        {
            "options": [["furusato_sd_jwt"], ["furusato_jwt_vc"], ["furusato_ldp_vc"]],
            "required": True,
        }
    ]
    assert oid4vp.required_query_ids(both) == [
        [["furusato_sd_jwt"], ["furusato_jwt_vc"], ["furusato_ldp_vc"]]
    ]
    with pytest.raises(oid4vp.InvalidRequestError):
        oid4vp.furusato_dcql_query(["mso_mdoc"])


CREDENTIAL: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/furusato/v1"],
    "type": ["VerifiableCredential", "FurusatoResidentCredential"],
    "issuer": {"id": "did:web:furusato.example.jp:lg:015814"},
    "validFrom": "2027-01-15T00:00:00Z",
    "credentialSubject": {
        "id": "did:key:z6Mk",
        "type": "FurusatoResident",
        "registrationTier": "basic",
        "municipality": {"lgCode": "015814", "name": "厚真町"},
    },
}


def test_expanded_types_of_our_credential() -> None:
    candidate = oid4vp.candidate("c1", LDP_VC, CREDENTIAL)
    assert oid4vp.VC_TYPE_IRI in candidate.types
    assert oid4vp.RESIDENT_TYPE_IRI in candidate.types


def test_match_dcql() -> None:
    query = oid4vp.furusato_dcql_query()
    ldp = oid4vp.Candidate(
        "ldp", LDP_VC, CREDENTIAL, frozenset({oid4vp.VC_TYPE_IRI, oid4vp.RESIDENT_TYPE_IRI})
    )
    wrong_type = oid4vp.Candidate("x", LDP_VC, CREDENTIAL, frozenset({oid4vp.VC_TYPE_IRI}))
    sd = oid4vp.Candidate(
        "sd",
        DC_SD_JWT,
        {
            "vct": "https://w3id.org/furusato/resident",
            "registrationTier": "premium",
            "municipality": {"lgCode": "011002"},
        },
    )
    other_vct = oid4vp.Candidate(
        "o",
        DC_SD_JWT,
        {"vct": "https://other.example", "registrationTier": "x", "municipality": {"lgCode": "1"}},
    )
    no_tier = oid4vp.Candidate(
        "n",
        DC_SD_JWT,
        {"vct": "https://w3id.org/furusato/resident", "municipality": {"lgCode": "1"}},
    )
    matches = oid4vp.match_dcql(query, [ldp, wrong_type, sd, other_vct, no_tier])
    assert [m.candidate.id for m in matches["furusato_ldp_vc"]] == ["ldp"]
    assert [m.candidate.id for m in matches["furusato_sd_jwt"]] == ["sd"]
    assert matches["furusato_jwt_vc"] == []
    assert matches["furusato_sd_jwt"][0].disclose == (
        ("registrationTier",),
        ("municipality", "lgCode"),
    )

    # values, claim_sets, null (all array elements), no claims
    query = {
        "credentials": [
            {
                "id": "q",
                "format": DC_SD_JWT,
                "meta": {},
                "claims": [
                    {"id": "t", "path": ["registrationTier"], "values": ["premium"]},
                    {"id": "m", "path": ["municipality", "lgCode"]},
                    {"id": "x", "path": ["list", None, "a"]},
                ],
                "claim_sets": [["t", "x"], ["m"]],
            },
            {"id": "all", "format": DC_SD_JWT, "meta": {}},
        ]
    }
    matches = oid4vp.match_dcql(query, [sd, no_tier])
    assert [(m.candidate.id, m.disclose) for m in matches["q"]] == [
        ("sd", (("municipality", "lgCode"),)),
        ("n", (("municipality", "lgCode"),)),
    ]
    with_list = oid4vp.Candidate("l", DC_SD_JWT, {**sd.claims, "list": [{"a": 1}]})
    assert oid4vp.match_dcql(query, [with_list])["q"][0].disclose == (
        ("registrationTier",),
        ("list", None, "a"),
    )
    assert oid4vp.match_dcql(query, [sd])["all"][0].disclose == ()


# --- SD-JWT disclosures for a request --------------------------------------------------------


def test_sd_jwt_disclosures_for_paths() -> None:
    issuer = generate_private_key(KeyType.ED25519, secrets.token_bytes)
    holder = generate_private_key(KeyType.ED25519, secrets.token_bytes)
    claims = {
        "iss": "did:web:x.example",
        "vct": "https://w3id.org/furusato/resident",
        "cnf": {"jwk": holder.public_key.to_jwk()},
        "registrationTier": "basic",
        "registeredSince": "2027-01-15",
        "municipality": {"lgCode": "015814", "name": "厚真町"},
    }
    token = sdjwt.issue_sd_jwt(
        claims,
        issuer,
        kid="did:web:x.example#key-1",
        disclosable=["registrationTier", "registeredSince", "municipality", "municipality.name"],
        random_bytes=secrets.token_bytes,
    )
    decoded, disclosable = oid4vp.unverified_sd_jwt_claims(token)
    assert decoded["municipality"] == {"lgCode": "015814", "name": "厚真町"}
    assert ("municipality", "name") in disclosable
    assert oid4vp.sd_jwt_disclosures_for(token, [("registrationTier",)]) == ["registrationTier"]
    assert oid4vp.sd_jwt_disclosures_for(token, [("municipality", "lgCode")]) == ["municipality"]
    assert oid4vp.sd_jwt_disclosures_for(token, [("municipality",)]) == [
        "municipality",
        "municipality.name",
    ]
    request = make(formats_=[DC_SD_JWT], claims=[("registrationTier",)])
    shown = oid4vp.present_for_request(
        request, DC_SD_JWT, token, holder, disclose=[("registrationTier",)], now=NOW
    )
    assert isinstance(shown, str)
    presented, _ = oid4vp.unverified_sd_jwt_claims(shown)
    assert "registrationTier" in presented
    assert "municipality" not in presented
    assert "registeredSince" not in presented
    kb = sdjwt.parse(shown).kb_jwt
    assert kb is not None
    assert kb.unverified_payload["nonce"] == request.nonce
    assert kb.unverified_payload["aud"] == request.client_id


# --- §8 the response -------------------------------------------------------------------------


def test_vp_token_round_trip() -> None:
    request = make(formats_=[DC_SD_JWT])
    form = oid4vp.build_vp_token(request, {"furusato": ["a.b.c~"]})
    assert set(form) == {"vp_token", "state"}
    assert json.loads(form["vp_token"]) == {"furusato": ["a.b.c~"]}
    assert form["state"] == request.state
    response = oid4vp.parse_response(form)
    assert response.vp_token == {"furusato": ("a.b.c~",)}
    assert response.state == request.state
    assert oid4vp.parse_response(list(form.items())) == response
    with pytest.raises(oid4vp.InvalidResponseError) as info:
        oid4vp.build_vp_token(request, {"other": ["x"]})
    assert info.value.code == "oid4vp_unknown_credential_query"
    with pytest.raises(oid4vp.InvalidResponseError):
        oid4vp.build_vp_token(request, {"furusato": ["x", "y"]})  # multiple is false
    with pytest.raises(oid4vp.InvalidResponseError):
        oid4vp.build_vp_token(request, {"furusato": []})


RESPONSE_REFUSALS = [
    ("no vp_token", [("state", "s")], "oid4vp_vp_token_invalid"),
    ("not json", [("vp_token", "{")], "oid4vp_vp_token_invalid"),
    ("array", [("vp_token", '["a"]')], "oid4vp_vp_token_invalid"),
    ("not an array", [("vp_token", '{"q": "a"}')], "oid4vp_vp_token_invalid"),
    ("empty array", [("vp_token", '{"q": []}')], "oid4vp_vp_token_invalid"),
    ("number", [("vp_token", '{"q": [1]}')], "oid4vp_vp_token_invalid"),
    ("bad key", [("vp_token", '{"a b": ["x"]}')], "oid4vp_vp_token_invalid"),
    ("too many", [("vp_token", json.dumps({"q": ["x"] * 5}))], "oid4vp_vp_token_invalid"),
    (
        "duplicate",
        [("vp_token", '{"q": ["x"]}'), ("vp_token", '{"q": ["x"]}')],
        "oid4vp_invalid_response",
    ),
    ("bad state", [("vp_token", '{"q": ["x"]}'), ("state", "a b")], "oid4vp_state_invalid"),
    ("wallet error", [("error", "access_denied")], "oid4vp_wallet_error"),
    ("too many fields", [(f"f{i}", "x") for i in range(9)], "oid4vp_invalid_response"),
]


@pytest.mark.parametrize(
    ("name", "form", "code"), RESPONSE_REFUSALS, ids=[r[0] for r in RESPONSE_REFUSALS]
)
def test_section_8_response_refusals(name: str, form: list[tuple[str, str]], code: str) -> None:
    with pytest.raises(oid4vp.InvalidResponseError) as info:
        oid4vp.parse_response(form)
    assert info.value.code == code, name


def test_verify_response_checks_the_answer_before_verifying() -> None:
    from vc.verify import VerifyOptions

    request = make()
    options = VerifyOptions(now=NOW)

    def resolver(_: str) -> Any:
        raise AssertionError("nothing is verified")

    wrong_state = oid4vp.AuthorizationResponse({"furusato_sd_jwt": ("x",)}, "other")
    outcome = oid4vp.verify_response(request, wrong_state, resolver=resolver, options=options)  # type: ignore[arg-type]
    assert not outcome.verified
    assert "oid4vp_state_mismatch" in outcome.codes
    unknown = oid4vp.AuthorizationResponse({"nope": ("x",)}, request.state)
    outcome = oid4vp.verify_response(request, unknown, resolver=resolver, options=options)  # type: ignore[arg-type]
    assert outcome.codes == ["oid4vp_unknown_credential_query", "oid4vp_credential_missing"]
    assert outcome.to_json()["verified"] is False


# --- property tests: any input is parsed or refused with a code --------------------------------


def refusal(call: Callable[[], object]) -> str | None:
    """The code ``call`` is refused with (None: accepted); anything but our errors propagates."""
    try:
        call()
    except FurusatoError as exc:
        return exc.code
    return None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.builds(lambda s: "openid4vp://?" + s, st.text(max_size=300)))
def test_any_request_uri_is_parsed_or_refused(text: str) -> None:
    code = refusal(lambda: oid4vp.parse_request_uri(text))
    assert code is None or code.startswith("oid4vp_"), code


_param_names = st.sampled_from(
    [
        "client_id",
        "response_type",
        "response_mode",
        "response_uri",
        "nonce",
        "state",
        "dcql_query",
        "scope",
        "x",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_param_names, st.text(max_size=80), max_size=9))
def test_any_request_parameters_are_parsed_or_refused(params: dict[str, str]) -> None:
    base = params_of(make().to_uri())
    code = refusal(lambda: oid4vp.parse_request_uri(uri_of({**base, **params})))
    assert code is None or code.startswith("oid4vp_"), code


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["vp_token", "state", "error", "x"]),
            st.text(max_size=60) | _json.map(json.dumps),
        ),
        max_size=10,
    )
)
def test_any_response_is_parsed_or_refused(form: list[tuple[str, str]]) -> None:
    code = refusal(lambda: oid4vp.parse_response(form))
    assert code is None or code.startswith("oid4vp_"), code
    if code is None:
        response = oid4vp.parse_response(form)
        assert all(isinstance(v, tuple) and v for v in response.vp_token.values())


@settings(max_examples=200, deadline=None)
@given(_json)
def test_any_dcql_is_checked_or_refused(value: Any) -> None:
    query = {"credentials": [value]} if isinstance(value, dict) else value
    code = refusal(lambda: oid4vp.parse_dcql_query(query))
    assert code is None or code.startswith("oid4vp_"), code
