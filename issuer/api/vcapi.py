"""VC-API (W3C VCALM) endpoints for tools and the W3C test suites.

``POST /credentials/issue`` signs with the token's municipality (201), filling in a missing
``issuer``; ``/credentials/verify`` and ``/presentations/verify`` answer 200 when verified and
400 with a problem+json body that also carries ``verified: false`` and every check otherwise —
never ``200 {verified: false}`` (the W3C Data Integrity suites require a 4xx; DESIGN.md §7,
REFERENCES.md §5).  They verify against this deployment's own keys and status lists
(:mod:`issuer.resolving`), not the national registry.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from did.errors import MalformedValueError
from issuer import issuance
from issuer.api.common import json_body, services
from issuer.auth import authenticate
from issuer.bootstrap import Services
from issuer.resolving import LocalStatusLists, tenant_resolver
from issuer.tenants import get_tenant
from shellkit.web import PROBLEM_JSON, prefers_english
from vc.furusato import is_furusato
from vc.result import VerificationResult
from vc.verify import VerifyOptions, verify_credential, verify_presentation

router = APIRouter(tags=["vc-api"])
BODY = Depends(json_body)

ISSUE_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["credential"],
                "properties": {
                    "credential": {"type": "object"},
                    "options": {
                        "type": "object",
                        "properties": {
                            "credentialStatus": {
                                "type": "object",
                                "properties": {"type": {"type": "string"}},
                            },
                            "credentialId": {"type": "string"},
                        },
                    },
                },
            }
        }
    },
    "required": True,
}
VERIFY_VC_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["verifiableCredential"],
                "properties": {
                    "verifiableCredential": {"type": "object"},
                    "options": {"type": "object"},
                },
            }
        }
    },
    "required": True,
}
VERIFY_VP_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["verifiablePresentation"],
                "properties": {
                    "verifiablePresentation": {"type": "object"},
                    "options": {
                        "type": "object",
                        "properties": {
                            "challenge": {"type": "string"},
                            "domain": {"type": "string"},
                        },
                    },
                },
            }
        }
    },
    "required": True,
}
KNOWN_OPTIONS = {
    "checks",
    "expectedProofPurpose",
    "challenge",
    "domain",
    "returnResults",
    "returnProblemDetails",
    "returnCredential",
    "returnPresentation",
}


def _object(body: Any, member: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise MalformedValueError("the body must be a JSON object", "本文は JSON オブジェクトです")
    value = body.get(member)
    if not isinstance(value, dict):
        raise MalformedValueError(
            f"{member} must be an object", f"{member} はオブジェクトです", path=member
        )
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise MalformedValueError(
            "options must be an object", "options はオブジェクトです", path="options"
        )
    return value


@router.post(
    "/credentials/issue",
    status_code=201,
    operation_id="vcapi_issue",
    summary="証明書に署名する / Issue a credential",
    openapi_extra={"requestBody": ISSUE_BODY},
)
def issue(request: Request, body: Any = BODY) -> JSONResponse:
    svc = services(request)
    with svc.db.read() as session:
        principal = authenticate(session, request.headers.get("authorization"))
    principal.require("issue")
    credential = _object(body, "credential")
    if credential.get("issuer") is None and is_furusato(credential):
        # Our profiles' issuer is an object naming the municipality, as every other issuance
        # writes it (vc.furusato.resident_credential); the JSON Schema refuses a bare DID.
        with svc.db.read() as session:
            tenant = get_tenant(session, principal.lg_code)
        credential = {**credential, "issuer": {"id": tenant.did, "name": tenant.name}}
    options = body.get("options") or {}
    status_option = options.get("credentialStatus")
    if status_option is not None and (
        not isinstance(status_option, dict)
        or status_option.get("type") != "BitstringStatusListEntry"
    ):
        raise MalformedValueError(
            'options.credentialStatus must be {"type": "BitstringStatusListEntry"}',
            'options.credentialStatus は {"type": "BitstringStatusListEntry"} にしてください',
            path="options.credentialStatus",
        )
    credential_id = options.get("credentialId")
    if credential_id is not None:
        if not isinstance(credential_id, str):
            raise MalformedValueError(
                "options.credentialId must be a string",
                "options.credentialId は文字列です",
                path="options.credentialId",
            )
        credential = {**credential, "id": credential_id}
    # None: the municipality's vcapiStatus setting decides, read in the issuing transaction
    with_status = True if status_option is not None else None
    issued = issuance.issue_submitted(
        svc.db,
        svc.ring,
        svc.settings,
        lg_code=principal.lg_code,
        credential=credential,
        with_status=with_status,
        now=svc.clock(),
        actor=principal.actor,
    )
    return JSONResponse({"verifiableCredential": issued.credential}, status_code=201)


def _verification_response(request: Request, result: VerificationResult) -> JSONResponse:
    body = result.to_json()
    if result.verified:
        return JSONResponse(body, status_code=200)
    english = prefers_english(request)
    first = result.errors[0]
    body.update(
        {
            "type": "https://www.w3.org/TR/vc-data-model#CRYPTOGRAPHIC_SECURITY_ERROR"
            if first.code == "signature_invalid"
            else "https://www.w3.org/TR/vc-data-model#MALFORMED_VALUE_ERROR",
            "title": "Verification failed" if english else "検証できませんでした",
            "status": 400,
            "detail": first.message_en if english else first.message_ja,
            "code": first.code,
            "messages": {"ja": first.message_ja, "en": first.message_en},
            "errors": [c.to_json() for c in result.errors],
        }
    )
    return JSONResponse(body, status_code=400, media_type=PROBLEM_JSON)


def _options(svc: Services, **kw: Any) -> VerifyOptions:
    return VerifyOptions(now=svc.clock(), status_lists=LocalStatusLists(svc), **kw)


@router.post(
    "/credentials/verify",
    operation_id="vcapi_verify_credential",
    summary="証明書を検証する / Verify a credential",
    openapi_extra={"requestBody": VERIFY_VC_BODY},
)
def verify_vc(request: Request, body: Any = BODY) -> JSONResponse:
    svc = services(request)
    credential = _object(body, "verifiableCredential")
    result = verify_credential(credential, resolver=tenant_resolver(svc), options=_options(svc))
    return _verification_response(request, result)


@router.post(
    "/presentations/verify",
    operation_id="vcapi_verify_presentation",
    summary="提示を検証する / Verify a presentation",
    openapi_extra={"requestBody": VERIFY_VP_BODY},
)
def verify_vp(request: Request, body: Any = BODY) -> JSONResponse:
    svc = services(request)
    presentation = _object(body, "verifiablePresentation")
    options = body.get("options") or {}
    challenge, domain = options.get("challenge"), options.get("domain")
    for name, value in (("challenge", challenge), ("domain", domain)):
        if value is not None and not isinstance(value, str):
            raise MalformedValueError(
                f"options.{name} must be a string",
                f"options.{name} は文字列です",
                path=f"options.{name}",
            )
    result = verify_presentation(
        presentation,
        resolver=tenant_resolver(svc),
        options=_options(svc, challenge=challenge, domain=domain),
    )
    return _verification_response(request, result)
