"""The offline verifier end to end: issuer and registry on loopback → ``sync`` → servers
stopped → ``verify`` from the cache; then what a municipality does (revoke, suspend,
reinstate, rotate its key) and what the registry operator does (revoke a key, publish a new
sequence) reaches the verifier at its next sync — and nothing else does.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from did.key import did_key_from_public_key
from did.keys import KeyType, generate_private_key
from issuer.tenants import active_key, get_tenant
from schemas.municipalities import municipality_table
from tests.conftest import record_network
from tests.verifier.conftest import Site, StaticServer
from tests.wallet.helpers import (
    HTTP_TIMEOUT,
    LG,
    OTHER_LG,
    RegistryDir,
    admin_offer,
    expect,
    issuer,
    short,
    verifier,
)
from vc.dates import format_datetime
from vc.furusato import municipality_claim, resident_credential
from vc.issue import issue_credential

Doc = dict[str, Any]


def sync(site: Site, *args: str | Path, code: int = 0) -> Doc:
    """``furusato-verifier sync --json`` against the site's registry server."""
    result = verifier(
        "sync",
        "--registry",
        site.registry_url,
        "--cache-dir",
        site.cache,
        "--json",
        *args,
    )
    if code == 0 and result.exit_code != 0:
        raise AssertionError(f"sync failed: {result.stdout}\n{result.stderr}")
    assert result.exit_code == code, (result.stdout, result.stderr)
    report: Doc = json.loads(result.stdout) if result.stdout.strip() else {}
    return report


def first_sync(site: Site) -> Doc:
    return sync(site, "--registry-key", site.setup.registry.public_key)


def check(site: Site, source: str | Path, *args: str | Path) -> tuple[int, Doc]:
    """``furusato-verifier verify SOURCE --cache-dir … --json`` (registry trust by default)."""
    result = verifier("verify", source, "--cache-dir", site.cache, "--json", *args)
    assert result.stderr == "", result.stderr
    answer: Doc = json.loads(result.stdout)
    return result.exit_code, answer


def qr(site: Site, which: str = "basic") -> str:
    stored = site.setup.basic if which == "basic" else site.setup.premium
    return site.setup.wallet.payload(short(stored.id))


def credential_file(site: Site, which: str = "basic") -> Path:
    stored = site.setup.basic if which == "basic" else site.setup.premium
    path = site.cache.parent / f"{which}-credential.json"
    path.write_text(json.dumps(stored.credential, ensure_ascii=False), encoding="utf-8")
    return path


def admin(site: Site, path: str, token: str) -> Doc:
    response = httpx.post(
        f"{site.live.url}/admin/api/{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code in (200, 201), response.text
    answer: Doc = response.json()
    return answer


def set_state(site: Site, action: str, which: str = "basic") -> None:
    stored = site.setup.basic if which == "basic" else site.setup.premium
    token = site.live.world.staff_token if which == "basic" else site.live.world.other_staff_token
    admin(site, f"credentials/{stored.credential['id']}/{action}", token)


# --- offline ---------------------------------------------------------------------------------


def test_sync_then_verify_offline_with_every_server_stopped(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = first_sync(site)
    assert report["municipalities"] == 2
    assert report["lists"] == 4  # revocation + suspension of each municipality
    assert report["failures"] == []
    payloads = {which: qr(site, which) for which in ("basic", "premium")}

    site.live.__exit__(None, None, None)
    site.registry_server.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(site.registry_url, timeout=2)
    network_attempts = record_network(monkeypatch)

    for _which, payload in payloads.items():
        code, result = check(site, payload)
        assert code == 0, result
        assert result["verified"] is True
        names = {c["check"] for c in result["checks"]}
        assert {"holder_proof", "holder_binding", "freshness", "policy"} <= names
        credential = result["credentials"][0]
        assert {"registry", "proof", "validity", "status"} <= {
            c["check"] for c in credential["checks"]
        }
        status = [c for c in credential["checks"] if c["check"] == "status"]
        assert [c["ok"] for c in status] == [True, True]
    assert network_attempts == []  # not even a name lookup


def test_the_human_output_says_how_old_the_data_is(site: Site) -> None:
    first_sync(site)
    result = verifier("verify", qr(site), "--cache-dir", site.cache)
    assert result.exit_code == 0, result.stdout
    assert "✓ 有効です" in result.stdout
    assert "全国レジストリの取得: " in result.stdout
    assert "分前" in result.stdout
    assert "ステータスリスト 4 件" in result.stdout
    english = verifier("verify", qr(site), "--cache-dir", site.cache, "--lang", "en")
    assert "Registry fetched: " in english.stdout
    assert "min ago" in english.stdout


def test_without_a_sync_nothing_is_trusted(site: Site) -> None:
    code, result = check(site, qr(site))
    assert code == 1
    assert result["codes"] == ["issuer_unknown"]
    assert "sync" in result["checks"][0]["message"]["en"]


# --- what the municipality does -----------------------------------------------------------------


def test_revocation_reaches_the_verifier_at_the_next_sync(site: Site) -> None:
    first_sync(site)
    set_state(site, "revoke")
    # Until the next sync the device knows nothing new: it says how old its lists are.
    code, _ = check(site, qr(site))
    assert code == 0
    sync(site)
    code, result = check(site, qr(site))
    assert code == 1
    assert result["codes"] == ["revoked"]
    code, other = check(site, qr(site, "premium"))
    assert code == 0, other  # the other municipality's registrant is untouched


def test_suspension_then_reinstatement(site: Site) -> None:
    first_sync(site)
    set_state(site, "suspend", "premium")
    sync(site)
    code, result = check(site, qr(site, "premium"))
    assert (code, result["codes"]) == (1, ["suspended"])
    set_state(site, "reinstate", "premium")
    sync(site)
    code, result = check(site, qr(site, "premium"))
    assert code == 0, result


def test_key_rotation_keeps_earlier_credentials_valid(site: Site, tmp_path: Path) -> None:
    first_sync(site)
    world = site.live.world
    admin(site, "keys/rotate", world.admin_token)
    # The municipality sends its new entry (both keys) to the operator, who signs sequence 2.
    site.setup.registry.add_from(world, LG, tmp_path / "entry-rotated.json")
    site.publish(site.setup.registry.sign(tmp_path / "registry-rotated.jws"))
    report = sync(site)
    assert report["registrySequence"] == 3  # 1: full, 2: 011002 only (setup), 3: rotated
    code, result = check(site, qr(site))  # signed by the old key
    assert code == 0, result

    fresh = site.setup.wallet.receive(admin_offer(site.live, world.staff_token)["offerUri"])
    sync(site)  # its status list entries may be in lists the cache has
    code, result = check(site, site.setup.wallet.payload(short(fresh.id)))
    assert code == 0, result
    old_vm = site.setup.basic.credential["proof"]["verificationMethod"]
    assert fresh.credential["proof"]["verificationMethod"] != old_vm


def test_a_key_revoked_in_the_registry_fails_everything_it_signed(
    site: Site, tmp_path: Path
) -> None:
    first_sync(site)
    registry = site.setup.registry
    # the setup's last signing listed 011002 only: put 015814 back, then revoke its key
    registry.add_from(site.live.world, LG, tmp_path / "entry.json")
    vm = site.setup.basic.credential["proof"]["verificationMethod"]
    expect(
        issuer(
            "registry",
            "revoke-key",
            "--registry-dir",
            registry.directory,
            "--yes",
            vm,
            env=registry.env,
        ),
        0,
    )
    site.publish(registry.sign(tmp_path / "registry-key-revoked.jws"))
    report = sync(site, code=1)
    # 015814's status lists are signed with that key too: refused, the cached ones are kept
    assert {(f["lgCode"], f["code"]) for f in report["failures"]} == {(LG, "key_revoked")}
    assert report["lists"] == 2  # 011002's
    code, result = check(site, qr(site))
    assert code == 1
    assert "key_revoked" in result["codes"]
    code, result = check(site, qr(site, "premium"))
    assert code == 0, result  # another municipality's key is not affected


# --- what sync refuses -------------------------------------------------------------------------


def test_sync_refuses_a_lower_sequence_and_keeps_the_cache(site: Site) -> None:
    first_sync(site)  # the full registry: sequence 1
    newer = site.setup.partial_registry  # sequence 2 (011002 only)
    site.publish(newer)
    assert sync(site)["registrySequence"] == 2
    before = (site.cache / "registry.jws").read_bytes()
    site.publish(site.setup.full_registry)  # sequence 1 again: a rollback
    result = verifier("sync", "--registry", site.registry_url, "--cache-dir", site.cache)
    assert result.exit_code == 1
    assert "[registry_rollback]" in result.stderr
    assert "古い信頼リスト" in result.stderr or "rollback" in result.stderr
    assert (site.cache / "registry.jws").read_bytes() == before


def test_sync_refuses_a_forged_registry(site: Site, tmp_path: Path) -> None:
    first_sync(site)
    before = (site.cache / "registry.jws").read_bytes()
    # 1. the payload changed under the authority's signature
    header, payload, signature = site.setup.full_registry.read_text().strip().split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["sequence"] = 99
    forged_payload = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    (tmp_path / "forged.jws").write_text(f"{header}.{forged_payload}.{signature}")
    site.publish(tmp_path / "forged.jws")
    result = verifier("sync", "--registry", site.registry_url, "--cache-dir", site.cache)
    assert result.exit_code == 1
    assert "[registry_signature_invalid]" in result.stderr
    # 2. a whole registry signed by another authority
    impostor = RegistryDir(tmp_path / "impostor").init()
    impostor.add_from(site.live.world, LG, tmp_path / "entry.json")
    site.publish(impostor.sign(tmp_path / "impostor.jws"))
    result = verifier("sync", "--registry", site.registry_url, "--cache-dir", site.cache)
    assert result.exit_code == 1
    assert "[registry_signature_invalid]" in result.stderr
    # and offering the impostor's key does not re-pin it
    result = verifier(
        "sync",
        "--registry",
        site.registry_url,
        "--registry-key",
        impostor.public_key,
        "--cache-dir",
        site.cache,
    )
    assert result.exit_code == 1
    assert "[authority_key_changed]" in result.stderr
    assert (site.cache / "registry.jws").read_bytes() == before


def test_a_status_list_that_does_not_verify_is_not_kept(site: Site, tmp_path: Path) -> None:
    """A municipality's server serving a tampered list: that list fails, the rest sync."""
    first_sync(site)
    set_state(site, "revoke")
    # The operator's registry now points 015814's status lists at a server we control.
    public = tmp_path / "evil"
    index_url = f"{site.live.url}/status/{LG}/index.json"
    index = httpx.get(index_url, timeout=HTTP_TIMEOUT).json()
    (public / "status" / LG / "revocation").mkdir(parents=True)
    (public / "status" / LG / "suspension").mkdir(parents=True)
    evil = StaticServer(public)
    try:
        base = f"{evil.url}/status/{LG}"
        lists = []
        for item in index["lists"]:
            document = httpx.get(item["url"], timeout=HTTP_TIMEOUT).json()
            new_url = f"{base}/{item['purpose']}/{item['number']}"
            document["id"] = new_url  # served elsewhere: the proof does not cover that
            (public / "status" / LG / item["purpose"] / str(item["number"])).write_text(
                json.dumps(document)
            )
            lists.append({**item, "url": new_url})
        (public / "status" / LG / "index.json").write_text(
            json.dumps({"lgCode": LG, "lists": lists})
        )
        entry_file = tmp_path / "entry.json"
        registry = site.setup.registry
        exported = json.loads(
            expect(
                issuer(
                    "registry",
                    "entry",
                    "--data-dir",
                    site.live.world.svc.settings.data_dir,
                    "--database-url",
                    site.live.world.svc.settings.effective_database_url,
                    "--lg-code",
                    LG,
                ),
                0,
            ).stdout
        )
        exported["statusBaseUrl"] = base
        entry_file.write_text(json.dumps(exported))
        expect(
            issuer(
                "registry",
                "add",
                "--registry-dir",
                registry.directory,
                entry_file,
                env=registry.env,
            ),
            0,
        )
        site.publish(registry.sign(tmp_path / "registry-evil.jws"))
        report = sync(site, code=1)
        failed = {f["lgCode"] for f in report["failures"]}
        assert failed == {LG}
        assert {f["code"] for f in report["failures"]} == {"signature_invalid"}
    finally:
        evil.stop()
    state = json.loads((site.cache / "state.json").read_text())
    assert not any(url.startswith(base) for url in state["lists"])
    assert len(list((site.cache / "lists").iterdir())) == 4  # the first sync's, nothing more


# --- the registry's rules at verification time ----------------------------------------------------


def test_a_member_signing_for_another_municipality_fails(site: Site, tmp_path: Path) -> None:
    """011002 (札幌市) is a registry member, but signs a credential of 015814 (厚真町)."""
    first_sync(site)
    world = site.live.world
    now = datetime.now(UTC)
    with world.svc.db.read() as session:
        sapporo = get_tenant(session, OTHER_LG)
        key = active_key(session, world.svc.ring, sapporo)
    holder = generate_private_key(KeyType.ED25519, secrets.token_bytes)
    credential = resident_credential(
        credential_id="urn:uuid:6f1b9d7e-0000-4000-8000-000000000001",
        issuer=sapporo.did,
        issuer_name="札幌市",
        municipality=municipality_table().get(LG),
        holder=did_key_from_public_key(holder.public_key),
        tier="basic",
        registered_since=now.date(),
        valid_from=now,
        valid_until=now + timedelta(days=365),
        status=[  # 札幌市's own lists, at an index nobody holds
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": item["purpose"],
                "statusListIndex": "7",
                "statusListCredential": item["url"],
            }
            for item in httpx.get(f"{site.live.url}/status/{OTHER_LG}/index.json").json()["lists"]
            if item["number"] == 1
        ],
    )
    signed = issue_credential(
        credential, key.signer, verification_method=key.verification_method, created=now
    )
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(signed, ensure_ascii=False))
    code, result = check(site, path)
    assert code == 1
    assert "municipality_mismatch" in result["codes"]

    # The control: the same signing, with 札幌市's own lgCode, verifies.
    credential["credentialSubject"]["municipality"] = municipality_claim(
        municipality_table().get(OTHER_LG)
    )
    signed = issue_credential(
        credential, key.signer, verification_method=key.verification_method, created=now
    )
    path.write_text(json.dumps(signed, ensure_ascii=False))
    code, result = check(site, path)
    assert code == 0, result


# --- freshness of the cache, replay, policy ------------------------------------------------------


def test_old_status_lists_are_status_stale_and_missing_ones_status_unknown(site: Site) -> None:
    sync(site, "--registry-key", site.setup.registry.public_key, "--lg-code", OTHER_LG)
    # 015814's lists were never fetched: the verifier cannot know, and says so
    code, result = check(site, qr(site))
    assert code == 1
    assert result["codes"] == ["status_unknown"]
    human = verifier("verify", qr(site), "--cache-dir", site.cache)
    assert "失効情報がないため、有効かどうか確認できません" in human.stdout

    # 011002's are fresh now, and stale once older than the policy's 24 hours (checked on
    # the credential itself: a QR made now would be a day old by then)
    credential = credential_file(site, "premium")
    later = format_datetime(datetime.now(UTC) + timedelta(hours=25))
    code, result = check(site, credential, "--now", later)
    assert code == 1
    assert result["codes"] == ["status_stale"]
    policy = site.cache.parent / "policy.json"
    policy.write_text(json.dumps({"name": "週1回同期の窓口", "statusMaxAgeHours": 168}))
    code, result = check(site, credential, "--now", later, "--policy", policy)
    assert code == 0, result


def test_the_same_qr_twice_is_a_replay_warning(site: Site) -> None:
    first_sync(site)
    payload = qr(site)
    code, result = check(site, payload)
    assert code == 0
    assert "replayed" not in [w["code"] for w in result["warnings"]]
    code, result = check(site, payload)
    assert code == 0  # a warning: the person may simply have been scanned twice
    assert "replayed" in [w["code"] for w in result["warnings"]]
    human = verifier("verify", payload, "--cache-dir", site.cache)
    assert "同じ提示データが既に使われています" in human.stdout


def test_a_registry_past_its_next_update_still_works_but_says_so(
    site: Site, tmp_path: Path
) -> None:
    registry = site.setup.registry
    registry.add_from(site.live.world, LG, tmp_path / "entry.json")
    one_day = tmp_path / "registry-1-day.jws"
    expect(
        issuer(
            "registry",
            "sign",
            "--registry-dir",
            registry.directory,
            "--out",
            one_day,
            "--valid-days",
            "1",
            env=registry.env,
        ),
        0,
    )
    site.publish(one_day)
    first_sync(site)
    later = format_datetime(datetime.now(UTC) + timedelta(hours=25))
    policy = site.cache.parent / "policy.json"
    policy.write_text(json.dumps({"statusMaxAgeHours": 36}))  # status lists: 2 days
    code, result = check(site, credential_file(site), "--now", later, "--policy", policy)
    assert code == 0, result  # the last good registry keeps the device working offline
    assert "registry_stale" in [w["code"] for w in result["warnings"]]
    human = verifier(
        "verify",
        credential_file(site),
        "--cache-dir",
        site.cache,
        "--now",
        later,
        "--policy",
        policy,
    )
    assert "全国レジストリの有効期限が過ぎています" in human.stdout
    status = verifier("cache", "--cache-dir", site.cache, "--now", later)
    assert "全国レジストリの有効期限が過ぎています" in status.stdout


@pytest.mark.parametrize(
    ("policy", "basic_015814", "premium_011002"),
    [
        (
            {"name": "厚真町の保育所", "tiers": ["premium"], "municipalities": [LG]},
            ["policy_tier"],
            ["policy_municipality"],
        ),
        ({"name": "北海道内のごみ集積所", "prefectures": ["010006"]}, [], []),
        (
            {"name": "東京都の窓口", "prefectures": ["130001"]},
            ["policy_municipality"],
            ["policy_municipality"],
        ),
        (
            {"name": "札幌市プレミアム", "tiers": ["premium"], "municipalities": [OTHER_LG]},
            ["policy_tier", "policy_municipality"],
            [],
        ),
    ],
)
def test_policies(
    site: Site, policy: Doc, basic_015814: list[str], premium_011002: list[str]
) -> None:
    first_sync(site)
    path = site.cache.parent / "policy.json"
    path.write_text(json.dumps(policy, ensure_ascii=False))
    for which, expected in (("basic", basic_015814), ("premium", premium_011002)):
        code, result = check(site, qr(site, which), "--policy", path)
        assert (code, result["codes"]) == (1 if expected else 0, expected)


def test_a_place_that_requires_a_challenge(site: Site) -> None:
    first_sync(site)
    path = site.cache.parent / "policy.json"
    path.write_text(json.dumps({"requireChallenge": True}))
    code, result = check(site, qr(site), "--policy", path)
    assert (code, result["codes"]) == (1, ["challenge_mismatch"])
    payload = site.setup.wallet.payload(short(site.setup.basic.id), "--challenge", "counter-7")
    code, result = check(site, payload, "--policy", path, "--challenge", "counter-7")
    assert code == 0, result


def test_the_cache_command_reports_what_was_synced(site: Site) -> None:
    first_sync(site)
    result = verifier("cache", "--cache-dir", site.cache, "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["registrySequence"] == 1
    assert summary["municipalities"] == 2
    assert summary["statusLists"] == 4
    assert summary["registryStale"] is False
    human = verifier("cache", "--cache-dir", site.cache, "--lang", "en")
    assert "Registry sequence 1, 2 municipalities" in human.stdout
