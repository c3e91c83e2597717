"""The holder-bound QR of a furusato credential: size, QR version, encode and verify times.

Prints, for the presentation a wallet shows:

* payload characters and binary bytes, and the QR version segno picks at L, M and Q — for our
  profile (issuer named through the registry, and self-contained), the generic form, and,
  measured in the same run, Digital Bazaar's CBOR-LD QR encoder (``@digitalbazaar/vpqr``,
  registry entry 1) on the bare credential and on the same presentation (bench/js; skipped
  with a note when node or npm is missing);
* encode time (sign the presentation + encode) and decode + full verification time in
  process (both proofs, registry trust, status from cached lists), median/min/max;
* the whole ``furusato-verifier verify`` process, as a verifying device runs it.

    python bench/bench_qr.py [--runs N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import segno

from bench.common import Timing, machine, measure
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from schemas.municipalities import municipality_table
from vc import base45, envelope
from vc.dates import format_datetime
from vc.furusato import resident_credential
from vc.issue import issue_credential
from vc.presentation import create_presentation, sign_presentation
from vc.registry import Registry, entry_from_did_document, sign_registry
from vc.statuslist import BitstringStatusList, StatusListDocument, build_status_list_credential
from vc.verify import VerifyOptions, verify_presentation

HERE = Path(__file__).resolve().parent
NOW = datetime.now(UTC).replace(microsecond=0)
LG = "015814"
HOST = "furusato.example.jp"
ISSUER = f"did:web:{HOST}:lg:{LG}"
ISSUER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
HOLDER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(1, 33)))
AUTHORITY_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(2, 34)))


def status_url(purpose: str) -> str:
    return f"https://{HOST}/status/{LG}/{purpose}/1"


def world() -> tuple[dict[str, Any], Registry, dict[str, StatusListDocument]]:
    document = build_did_document(ISSUER, [VerificationKeyEntry("key-1", ISSUER_KEY.public_key)])
    entry = entry_from_did_document(
        document, lg_code=LG, status_base_url=f"https://{HOST}/status/{LG}"
    )
    registry = Registry(
        sequence=1,
        issued_at=NOW - timedelta(hours=1),
        next_update=NOW + timedelta(days=7),
        entries=[entry],
        authority="bench",
    )
    lists = {}
    for purpose in ("revocation", "suspension"):
        unsigned = build_status_list_credential(
            list_url=status_url(purpose),
            issuer=ISSUER,
            purpose=purpose,
            status_list=BitstringStatusList(),
            valid_from=format_datetime(NOW - timedelta(hours=1)),
            valid_until=format_datetime(NOW + timedelta(days=2)),
        )
        signed = issue_credential(
            unsigned, ISSUER_KEY, verification_method=ISSUER + "#key-1", created=NOW
        )
        lists[status_url(purpose)] = StatusListDocument(signed, retrieved_at=NOW)
    valid_from = NOW - timedelta(days=30)
    credential = issue_credential(
        resident_credential(
            credential_id="urn:uuid:0f5b1a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
            issuer=ISSUER,
            issuer_name="厚真町",
            municipality=municipality_table().get(LG),
            holder=did_key_from_public_key(HOLDER_KEY.public_key),
            tier="premium",
            registered_since=date(2027, 1, 15),
            valid_from=valid_from,
            valid_until=valid_from + timedelta(days=365),
            status=[
                {
                    "type": "BitstringStatusListEntry",
                    "statusPurpose": p,
                    "statusListIndex": str(i),
                    "statusListCredential": status_url(p),
                }
                for p, i in (("revocation", 94567), ("suspension", 131000))
            ],
        ),
        ISSUER_KEY,
        verification_method=ISSUER + "#key-1",
        created=valid_from,
    )
    return credential, registry, lists


def present(credential: dict[str, Any], challenge: str) -> dict[str, Any]:
    holder = did_key_from_public_key(HOLDER_KEY.public_key)
    return sign_presentation(
        create_presentation([credential], holder=holder),
        HOLDER_KEY,
        verification_method=did_key_verification_method_id(HOLDER_KEY.public_key),
        challenge=challenge,
        domain=envelope.QR_DOMAIN,
        created=datetime.now(UTC),
    )


def versions(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for level in "lmq":
        code = segno.make_qr(text, error=level, boost_error=False)
        out[level.upper()] = code.version
    return out


def vpqr(documents: list[dict[str, Any]]) -> list[dict[str, Any]] | str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node/npm not found"
    js = HERE / "js"
    if not (js / "node_modules" / "@digitalbazaar" / "vpqr").is_dir():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=js, capture_output=True, check=False
        )
        if done.returncode != 0:
            return "npm ci failed: " + done.stderr.decode()[-200:]
    done = subprocess.run(
        [node, "vpqr_size.mjs"],
        cwd=js,
        input=json.dumps({"documents": documents}).encode(),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return "vpqr failed: " + done.stderr.decode()[-300:]
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cli-runs", type=int, default=10)
    args = parser.parse_args()

    credential, registry, lists = world()
    vp = present(credential, "q83vEjRWeJq8")
    short = envelope.encode_presentation(vp)
    full = envelope.encode_presentation(vp, issuer_by_registry=False)
    generic = envelope.encode_generic(vp)
    print(f"# furusato-vc QR benchmark — {dt.date.today()} — {machine()}")
    print("payload                                   chars  bytes   QR version L / M / Q")
    for name, text in (
        ("FR1 profile, issuer via registry", short),
        ("FR1 profile, self-contained", full),
        ("FRJ generic (DEFLATE JSON)", generic),
    ):
        size = len(base45.decode(text[4:]))
        v = versions(text)
        print(f"{name:<40} {len(text):6} {size:6}   {v['L']:>2} / {v['M']:>2} / {v['Q']:>2}")
    reference = vpqr([credential, vp])
    if isinstance(reference, str):
        print(f"Digital Bazaar vpqr (CBOR-LD): not measured ({reference})")
    else:
        for name, row in zip(
            ("bare VC (no holder binding)", "same holder-bound VP"), reference, strict=True
        ):
            if "error" in row:
                print(f"vpqr CBOR-LD, {name:<26} cannot encode it: {row['error']}")
                continue
            levels = f"{row['L']:>2} / {row['M']:>2} / {row['Q']:>2}"
            print(f"vpqr CBOR-LD, {name:<26} {row['payloadLength']:6}      —   {levels}")

    lookup = {LG: ISSUER}
    resolver = Resolver(documents=registry.did_documents())

    class Cache:
        def get(self, url: str) -> StatusListDocument | None:
            return lists.get(url)

    def encode_once() -> str:
        return envelope.encode_presentation(present(credential, "q83vEjRWeJq8"))

    fresh = encode_once()

    def decode_and_verify() -> None:
        decoded = envelope.decode(fresh, issuer_for=lookup.get)
        result = verify_presentation(
            decoded,
            resolver=resolver,
            options=VerifyOptions(
                now=datetime.now(UTC),
                challenge="q83vEjRWeJq8",
                domain=envelope.QR_DOMAIN,
                presentation_max_age=timedelta(minutes=5),
                require_holder_binding=True,
                registry=registry,
                status_lists=Cache(),
            ),
        )
        assert result.verified, result.to_json()

    timings: list[Timing] = [
        measure("sign presentation + encode FR1", encode_once, runs=args.runs),
        measure("encode only (FR1)", lambda: envelope.encode_presentation(vp), runs=args.runs),
        measure(
            "decode only (FR1)",
            lambda: envelope.decode(short, issuer_for=lookup.get),
            runs=args.runs,
        ),
        measure("decode + verify (2 proofs, registry, status)", decode_and_verify, runs=args.runs),
    ]
    for timing in timings:
        print(timing.line())

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        jws = sign_registry(registry, AUTHORITY_KEY, kid="bench")
        (directory / "registry.jws").write_text(jws)
        (directory / "authority.jwk").write_text(json.dumps(AUTHORITY_KEY.public_key.to_jwk()))
        files = []
        for i, document in enumerate(lists.values()):
            path = directory / f"status-{i}.json"
            path.write_text(json.dumps(document.credential))
            files += ["--status-list", str(path)]
        script = Path(sys.executable).with_name("furusato-verifier")
        samples = []
        for _ in range(args.cli_runs):
            payload = encode_once()
            start = time.perf_counter()
            done = subprocess.run(
                [
                    str(script),
                    "verify",
                    payload,
                    "--registry",
                    str(directory / "registry.jws"),
                    "--registry-key",
                    str(directory / "authority.jwk"),
                    "--challenge",
                    "q83vEjRWeJq8",
                    *files,
                ],
                capture_output=True,
                check=False,
            )
            samples.append((time.perf_counter() - start) * 1000)
            assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        print(Timing("furusato-verifier verify (whole process)", samples).line())


if __name__ == "__main__":
    main()
