"""``furusato-issuer demo --core``: the credential core alone, told in Japanese and English.

1. the municipality (厚真町) makes its signing key and did:web DID document;
2. a resident makes a key for this registration (did:key);
3. the municipality publishes empty revocation and suspension lists and signs a basic
   FurusatoResidentCredential for the resident;
4. the credential is verified (offline: the DID document and status lists are local);
5. the resident presents it, signing a presentation with the verifier's challenge;
6. a tampered copy (basic → premium) is rejected;
7. the municipality revokes the credential, and the next check fails.

Every step is a call into the core; the shell only keeps time and randomness and prints.
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, generate_private_key
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from schemas.municipalities import municipality_table
from vc.dates import format_datetime
from vc.furusato import resident_credential
from vc.issue import issue_credential
from vc.presentation import create_presentation, sign_presentation
from vc.result import CHECK_NAMES, VerificationResult
from vc.statuslist import (
    MIN_ENTRIES,
    BitstringStatusList,
    StatusListDocument,
    build_status_list_credential,
)
from vc.verify import VerifyOptions, verify_credential, verify_presentation

LG_CODE = "015814"  # 厚真町, 北海道
PLATFORM = "furusato.example.jp"
DOMAIN = "garbage-point.example.jp"


class _StatusLists:
    def __init__(self) -> None:
        self.documents: dict[str, StatusListDocument] = {}

    def get(self, url: str) -> StatusListDocument | None:
        return self.documents.get(url)


def _say(echo: Callable[[str], None], lang: str, ja: str, en: str) -> None:
    if lang in ("ja", "both"):
        echo(ja)
    if lang in ("en", "both"):
        echo(en)


def _report(echo: Callable[[str], None], lang: str, result: VerificationResult) -> None:
    mark = "✓" if result.verified else "✗"
    _say(
        echo,
        lang,
        f"  {mark} {'検証できました' if result.verified else '検証できません'}",
        f"  {mark} {'verified' if result.verified else 'NOT verified'}",
    )
    for check in list(result.checks) + [c for r in result.credentials for c in r.checks]:
        name_ja, name_en = CHECK_NAMES.get(check.check, (check.check, check.check))
        sign = "・" if check.ok else "✗"
        code = "" if check.ok else f" [{check.code}]"
        _say(
            echo,
            lang,
            f"    {sign} {name_ja}: {check.message_ja}{code}",
            f"    {sign} {name_en}: {check.message_en}{code}",
        )


def run_demo(
    *,
    out_dir: Path | None,
    lang: str,
    now: datetime,
    echo: Callable[[str], None],
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> bool:
    """Run the story; return True when every step came out as expected."""
    municipality = municipality_table().get(LG_CODE)
    issuer_did = f"did:web:{PLATFORM}:lg:{LG_CODE}"
    issuer_key = generate_private_key(KeyType.ED25519, random_bytes)
    did_document = build_did_document(
        issuer_did,
        [VerificationKeyEntry("key-1", issuer_key.public_key, valid_from=format_datetime(now))],
    )
    method = f"{issuer_did}#key-1"
    resolver = Resolver(documents={issuer_did: did_document})
    _say(
        echo,
        lang,
        f"[1] {municipality.prefecture}{municipality.name} の署名鍵と DID を作成しました",
        f"[1] Made the signing key and DID of {municipality.name} ({municipality.prefecture})",
    )
    echo(f"    {issuer_did}")

    holder_key = generate_private_key(KeyType.ED25519, random_bytes)
    holder = did_key_from_public_key(holder_key.public_key)
    _say(
        echo,
        lang,
        "[2] 住民がこの登録専用の鍵を作成しました",
        "[2] The resident made a key for this registration",
    )
    echo(f"    {holder}")

    status_lists = _StatusLists()
    lists = {purpose: BitstringStatusList(MIN_ENTRIES) for purpose in ("revocation", "suspension")}
    indexes = {purpose: int.from_bytes(random_bytes(4), "big") % MIN_ENTRIES for purpose in lists}

    def list_url(purpose: str) -> str:
        return f"https://{PLATFORM}/status/{LG_CODE}/{purpose}/1"

    def publish(purpose: str) -> dict[str, Any]:
        unsigned = build_status_list_credential(
            list_url=list_url(purpose),
            issuer=issuer_did,
            purpose=purpose,
            status_list=lists[purpose],
            valid_from=format_datetime(now),
            valid_until=format_datetime(now + timedelta(days=2)),
            ttl_ms=24 * 3600 * 1000,
        )
        signed = issue_credential(unsigned, issuer_key, verification_method=method, created=now)
        status_lists.documents[list_url(purpose)] = StatusListDocument(signed, retrieved_at=now)
        return signed

    published = {purpose: publish(purpose) for purpose in lists}
    valid_from = now.replace(microsecond=0)
    credential = resident_credential(
        credential_id=f"urn:uuid:{uuid.UUID(bytes=random_bytes(16), version=4)}",
        issuer=issuer_did,
        issuer_name=municipality.name,
        municipality=municipality,
        holder=holder,
        tier="basic",
        registered_since=valid_from.date(),
        valid_from=valid_from,
        valid_until=valid_from + timedelta(days=365),
        status=[
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(indexes[purpose]),
                "statusListCredential": list_url(purpose),
            }
            for purpose in lists
        ],
    )
    signed = issue_credential(credential, issuer_key, verification_method=method, created=now)
    _say(
        echo,
        lang,
        "[3] ベーシック登録の証明書に署名しました (eddsa-rdfc-2022):",
        "[3] Signed a basic-tier credential (eddsa-rdfc-2022):",
    )
    for line in json.dumps(signed, ensure_ascii=False, indent=2).splitlines():
        echo(f"    {line}")

    options = VerifyOptions(now=now, status_lists=status_lists, status_max_age=timedelta(days=1))
    first = verify_credential(signed, resolver=resolver, options=options)
    _say(
        echo,
        lang,
        "[4] 証明書を検証します (ネットワーク不要):",
        "[4] Verifying the credential (offline):",
    )
    _report(echo, lang, first)

    challenge = (
        secrets.token_urlsafe(16) if random_bytes is secrets.token_bytes else "demo-challenge"
    )
    presentation = sign_presentation(
        create_presentation([signed], holder=holder),
        holder_key,
        verification_method=did_key_verification_method_id(holder_key.public_key),
        challenge=challenge,
        domain=DOMAIN,
        created=now,
    )
    presented = verify_presentation(
        presentation,
        resolver=resolver,
        options=VerifyOptions(
            now=now,
            status_lists=status_lists,
            challenge=challenge,
            domain=DOMAIN,
            presentation_max_age=timedelta(seconds=120),
            require_holder_binding=True,
        ),
    )
    _say(
        echo,
        lang,
        "[5] 住民がチャレンジに署名して提示し、ごみ集積所で確認します:",
        "[5] The resident signs the verifier's challenge; a garbage point checks it:",
    )
    _report(echo, lang, presented)

    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["registrationTier"] = "premium"
    forged = verify_credential(tampered, resolver=resolver, options=options)
    _say(
        echo,
        lang,
        "[6] 「premium」に書き換えた偽物を検証します:",
        "[6] Verifying a copy altered to 'premium':",
    )
    _report(echo, lang, forged)

    lists["revocation"].set(indexes["revocation"], True)
    published["revocation"] = publish("revocation")
    revoked = verify_credential(signed, resolver=resolver, options=options)
    _say(
        echo,
        lang,
        "[7] 自治体が証明書を失効させ、再度検証します:",
        "[7] The municipality revokes the credential; checking again:",
    )
    _report(echo, lang, revoked)

    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {
            "did.json": did_document,
            "credential.json": signed,
            "presentation.json": presentation,
            "status-revocation.json": published["revocation"],
            "status-suspension.json": published["suspension"],
            "result.json": first.to_json(),
            "result-revoked.json": revoked.to_json(),
        }
        for name, value in files.items():
            (out_dir / name).write_text(
                json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
        _say(echo, lang, f"ファイルを {out_dir} に保存しました", f"Files written to {out_dir}")

    ok = (
        first.verified
        and presented.verified
        and forged.codes == ["signature_invalid"]
        and revoked.codes == ["revoked"]
    )
    _say(
        echo,
        lang,
        "実演は期待どおりに終わりました。" if ok else "実演で予期しない結果がありました。",
        "The demo ended as expected." if ok else "The demo had an unexpected outcome.",
    )
    return ok
