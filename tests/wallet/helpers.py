"""Helpers of the wallet tests.

The three command-line tools run in-process through click's CliRunner (``furusato-wallet``
with ``FURUSATO_WALLET_PASSPHRASE`` and ``--wallet-dir``, ``furusato-verifier``, and
``furusato-issuer registry`` with ``FURUSATO_REGISTRY_SECRET``); offers come from the live
issuer server's admin API (or its public registration endpoint); status lists are fetched
from the live server into files, as a verifier would sync them.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx
from click.testing import CliRunner, Result

from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey, PublicKey, generate_private_key
from issuer.cli import main as issuer_main
from issuer.issuance import issue_resident
from tests.issuer.conftest import LiveServer, World
from vc.model import as_list
from vc.registry import Registry, verify_registry
from verifier.cli import main as verifier_main
from wallet_cli.cli import main as wallet_main
from wallet_cli.store import StoredCredential, Wallet, WalletStore

PASSPHRASE = "wallet passphrase 0123"
REGISTRY_SECRET = "registry secret 0123456789"
HTTP_TIMEOUT = 30.0
LG = "015814"  # 北海道 厚真町: the basic credential
OTHER_LG = "011002"  # 北海道 札幌市: the premium credential

Doc = dict[str, Any]


# --- running the CLIs in-process ---------------------------------------------------------------


def run_cli(
    command: click.Command,
    args: Sequence[str | Path],
    *,
    env: Mapping[str, str | None] | None = None,
    stdin: str | bytes | None = None,
) -> Result:
    """Run ``command``; any exception other than SystemExit fails the test (a traceback)."""
    argv = [str(a) for a in args]
    result = CliRunner().invoke(command, argv, env=env, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"{command.name} {' '.join(argv)} raised {result.exception!r} "
            "(a traceback for the user)"
        ) from result.exception
    return result


def expect(result: Result, exit_code: int) -> Result:
    assert result.exit_code == exit_code, (
        f"exit {result.exit_code}, expected {exit_code}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def issuer(*args: str | Path, env: Mapping[str, str | None] | None = None) -> Result:
    return run_cli(issuer_main, args, env=env)


def verifier(*args: str | Path) -> Result:
    return run_cli(verifier_main, args)


def verify_json(*args: str | Path) -> tuple[int, Doc]:
    """``furusato-verifier verify ARGS --json`` → (exit code, the result object)."""
    result = run_cli(verifier_main, ["verify", *args, "--json"])
    assert result.stdout.strip(), (
        f"no JSON result (exit {result.exit_code}); stderr: {result.stderr}"
    )
    answer: Doc = json.loads(result.stdout)
    return result.exit_code, answer


@dataclass
class WalletCli:
    """``furusato-wallet --wallet-dir DIR …`` with the passphrase in the environment."""

    directory: Path
    passphrase: str = PASSPHRASE

    def __call__(
        self,
        *args: str | Path,
        passphrase: str | None = None,
        stdin: str | bytes | None = None,
    ) -> Result:
        env = {
            "FURUSATO_WALLET_PASSPHRASE": self.passphrase if passphrase is None else passphrase,
            "FURUSATO_WALLET_DIR": None,
        }
        return run_cli(wallet_main, ["--wallet-dir", self.directory, *args], env=env, stdin=stdin)

    def ok(self, *args: str | Path) -> str:
        """Run a command that must succeed; its stdout."""
        return str(expect(self(*args), 0).stdout)

    def init(self) -> WalletCli:
        self.ok("init")
        return self

    def open(self) -> Wallet:
        """The decrypted store, read with the library."""
        return WalletStore(self.directory).load(self.passphrase)

    def receive(self, offer: str | Path) -> StoredCredential:
        """``receive OFFER``; the credential it added."""
        before = {c.id for c in self.open().credentials}
        self.ok("receive", offer)
        added = [c for c in self.open().credentials if c.id not in before]
        assert len(added) == 1, added
        return added[0]

    def payload(self, reference: str, *extra: str) -> str:
        """``present ID --payload``: the QR text."""
        text = self.ok("present", reference, "--payload", *extra).strip()
        assert "\n" not in text, text
        return text

    @property
    def files(self) -> list[Path]:
        return sorted(p for p in self.directory.rglob("*") if p.is_file())

    @property
    def sealed(self) -> Path:
        return WalletStore(self.directory).path

    def copy_to(self, directory: Path) -> WalletCli:
        """The same wallet in another directory (tests that change it work on a copy)."""
        shutil.copytree(self.directory, directory)
        return WalletCli(directory, self.passphrase)


def short(credential_id: str) -> str:
    """The short id the wallet prints (8 characters of the UUID)."""
    return credential_id.removeprefix("urn:uuid:")[:8]


# --- the live issuer ---------------------------------------------------------------------------


def admin_offer(live: LiveServer, token: str, *, tier: str = "basic", tx_code: bool = False) -> Doc:
    """POST /admin/api/offers with a staff token: the offer (offerUri, qrPng, …)."""
    response = httpx.post(
        f"{live.url}/admin/api/offers",
        json={"tier": tier, "txCode": tx_code},
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 201, response.text
    answer: Doc = response.json()
    return answer


def registration_offer(live: LiveServer, lg_code: str) -> Doc:
    """POST /lg/{lg}/registrations (the public basic registration): the offer with its QR."""
    response = httpx.post(
        f"{live.url}/lg/{lg_code}/registrations", json={"tier": "basic"}, timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 201, response.text
    answer: Doc = response.json()
    return answer


def write_data_url(data_url: str, path: Path) -> Path:
    head, _, body = data_url.partition(",")
    assert head == "data:image/png;base64", head
    path.write_bytes(base64.b64decode(body, validate=True))
    return path


def status_list_urls(credential: Mapping[str, Any]) -> list[str]:
    """The status lists of a VCDM credential, or of an SD-JWT VC's claims."""
    status = credential.get("status")
    entries = (
        status.get("bitstring_status_list")
        if isinstance(status, dict)
        else credential.get("credentialStatus")
    )
    return [str(s["statusListCredential"]) for s in as_list(entries)]


def download_status_lists(credential: Mapping[str, Any], directory: Path) -> list[Path]:
    """GET every status list the credential names, from the live server, into files."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for url in status_list_urls(credential):
        response = httpx.get(url, timeout=HTTP_TIMEOUT)
        assert response.status_code == 200, (url, response.text)
        name = url.split("://", 1)[1].replace("/", "_").replace(":", "_") + ".json"
        path = directory / name
        path.write_bytes(response.content)
        paths.append(path)
    return paths


# --- the national registry ---------------------------------------------------------------------


@dataclass
class RegistryDir:
    """A registry directory made with ``furusato-issuer registry init``."""

    directory: Path

    @property
    def env(self) -> dict[str, str | None]:
        return {"FURUSATO_REGISTRY_SECRET": REGISTRY_SECRET, "FURUSATO_REGISTRY_DIR": None}

    @property
    def public_key(self) -> Path:
        return self.directory / "authority-public.jwk"

    def init(self) -> RegistryDir:
        expect(issuer("registry", "init", "--registry-dir", self.directory, env=self.env), 0)
        return self

    def add_from(self, world: World, lg_code: str, entry_file: Path) -> None:
        """``registry entry`` from the issuer's data, then ``registry add``."""
        settings = world.svc.settings
        exported = expect(
            issuer(
                "registry",
                "entry",
                "--data-dir",
                settings.data_dir,
                "--database-url",
                settings.effective_database_url,
                "--lg-code",
                lg_code,
            ),
            0,
        )
        entry_file.write_text(exported.stdout, encoding="utf-8")
        expect(
            issuer("registry", "add", "--registry-dir", self.directory, entry_file, env=self.env),
            0,
        )

    def remove(self, lg_code: str) -> None:
        expect(
            issuer(
                "registry",
                "remove",
                "--registry-dir",
                self.directory,
                "--yes",
                lg_code,
                env=self.env,
            ),
            0,
        )

    def sign(self, out: Path) -> Path:
        expect(
            issuer(
                "registry", "sign", "--registry-dir", self.directory, "--out", out, env=self.env
            ),
            0,
        )
        return out

    def load(self, jws: Path) -> Registry:
        """The signed registry as a verifier reads it (signature checked)."""
        jwk = json.loads(self.public_key.read_text("utf-8"))
        key = PublicKey.from_jwk({k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")})
        return verify_registry(jws.read_bytes(), key, now=datetime.now(UTC))


# --- a wallet with two credentials, and what a verifier needs ----------------------------------


@dataclass
class Setup:
    live: LiveServer
    wallet: WalletCli
    basic: StoredCredential  # 015814, basic
    premium: StoredCredential  # 011002, premium
    registry: RegistryDir
    full_registry: Path  # lists both municipalities
    partial_registry: Path  # lists 011002 only
    status_lists: list[Path] = field(default_factory=list)
    tmp: Path = Path()

    def trust(self, registry: Path | None = None) -> list[str]:
        """The verifier's options: the registry, its key, the status lists."""
        args = [
            "--registry",
            str(registry or self.full_registry),
            "--registry-key",
            str(self.registry.public_key),
        ]
        for path in self.status_lists:
            args += ["--status-list", str(path)]
        return args

    def holder_key(self, stored: StoredCredential) -> PrivateKey:
        return PrivateKey.from_jwk(stored.holder_jwk)


def key_created_at(world: World, lg_code: str) -> datetime:
    """When the municipality's current signing key became valid."""
    from issuer.tenants import keys_of

    with world.svc.db.read() as session:
        moment = max(k.valid_from for k in keys_of(session, lg_code))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def issue_premium_into(wallet: WalletCli, world: World, lg_code: str) -> StoredCredential:
    """A premium credential of ``lg_code`` for a new key, signed by the issuer's own issuance
    function and put into the wallet's store.

    Premium is issued over HTTP only for an approved application (identity proven, the
    programme's rules, staff review: tests/premium test that whole process); the tests of the
    wallet and the verifier need a premium credential to hold and to show, not the process.
    """
    holder = generate_private_key(KeyType.ED25519, secrets.token_bytes)
    issued = issue_resident(
        world.svc.db,
        world.svc.ring,
        world.svc.settings,
        lg_code=lg_code,
        holder=did_key_from_public_key(holder.public_key),
        tier="premium",
        now=datetime.now(UTC),
        source="test",
        actor="test",
    )
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    stored = StoredCredential(
        id=str(issued.credential["id"]),
        format="ldp_vc",
        credential=issued.credential,
        holder_jwk=holder.to_jwk(),
        issuer_url=f"{world.base_url}/lg/{lg_code}",
        received_at=now,
        state="active",
        checked_at=now,
    )
    store = WalletStore(wallet.directory)
    contents = store.load(wallet.passphrase)
    contents.credentials.append(stored)
    store.save(contents, wallet.passphrase, secrets.token_bytes)
    return stored


def make_setup(live: LiveServer, tmp: Path) -> Setup:
    world = live.world
    wallet = WalletCli(tmp / "wallet").init()
    basic = wallet.receive(admin_offer(live, world.staff_token, tier="basic")["offerUri"])
    premium = issue_premium_into(wallet, world, OTHER_LG)
    registry = RegistryDir(tmp / "registry").init()
    registry.add_from(world, LG, tmp / "entry-015814.json")
    registry.add_from(world, OTHER_LG, tmp / "entry-011002.json")
    full = registry.sign(tmp / "registry-full.jws")
    registry.remove(LG)
    partial = registry.sign(tmp / "registry-011002-only.jws")
    lists = download_status_lists(basic.credential, tmp / "status")
    lists += download_status_lists(premium.credential, tmp / "status")
    return Setup(live, wallet, basic, premium, registry, full, partial, lists, tmp)
