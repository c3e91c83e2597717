"""``furusato-issuer`` as a municipality runs it: init, keys, token, offer, revoke / suspend /
reinstate, audit verify, publish, registry entry and serve (issue 3).

In-process with click's CliRunner (``FURUSATO_ISSUER_SECRET`` set, ``--data-dir`` under
tmp_path), and through the installed console script; ``serve`` runs as a real subprocess on a
free loopback port.  Exit codes (STYLE.md 13): 0 ok, 1 failed or not verified, 2 usage.  Every
error is one line, Japanese then English, on stderr (helpers.assert_one_line_error).
"""

from __future__ import annotations

import importlib
import json
import re
import secrets
import signal
import sqlite3
import struct
import subprocess
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click
import httpx
import pytest
from click.testing import Result
from fastapi.testclient import TestClient

from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from did.multibase import base64url_decode
from did.resolver import Resolver
from issuer import cli as issuer_cli
from issuer.app import create_app
from issuer.bootstrap import Services, open_services
from issuer.cli import main as issuer_main
from issuer.issuance import issue_resident
from issuer.settings import Settings
from shellkit.secretbox import open_sealed
from tests.cli.helpers import (
    assert_one_line_error,
    free_port,
    invoke,
    run_script,
    script_env,
    start_script,
    stop_process,
    wait_for_port,
)
from vc.dates import parse_datetime
from vc.registry import RegistryEntry
from vc.statuslist import StatusListDocument
from vc.verify import VerifyOptions, verify_credential

SECRET = "cli-test-secret-0123456789"
LG = "015814"  # 北海道厚真町
OTHER_LG = "011002"  # 北海道札幌市
DEFAULT_DID = f"did:web:localhost%3A8000:lg:{LG}"
EXAMPLE_URL = "https://furusato.example.jp"
SERVICE_ENV = ("FURUSATO_ISSUER_SECRET", "FURUSATO_ISSUER_DATA", "FURUSATO_PUBLIC_URL")
TOKEN = re.compile(rf"fvc_{LG}_[0-9a-f]+_[A-Za-z0-9_-]{{20,}}")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # kana and kanji
ENGLISH = re.compile(r"\b[A-Za-z]{4,}\b")  # an English word
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SERVE_TIMEOUT = 90.0  # seconds for a server to listen: generous, only to turn a hang into a fail

Doc = dict[str, Any]


# --- fixtures and small helpers ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def _service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secret set; nothing else of the service's environment leaks in from the host."""
    for name in (*SERVICE_ENV, "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FURUSATO_ISSUER_SECRET", SECRET)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def tenant_dir(data_dir: Path) -> Path:
    """A data directory with municipality 015814 (did:web, default public URL)."""
    result = cli("init", "--data-dir", str(data_dir), "--lg-code", LG)
    assert result.exit_code == 0, result.output
    return data_dir


def cli(*args: str) -> Result:
    return invoke(issuer_main, list(args))


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result


def init_json(data_dir: Path, *options: str, lg_code: str = LG) -> Doc:
    result = ok(cli("init", "--data-dir", str(data_dir), "--lg-code", lg_code, "--json", *options))
    printed: Doc = json.loads(result.stdout)
    return printed


def services(data_dir: Path) -> Services:
    settings = Settings(data_dir=data_dir, secret=SECRET)
    return open_services(settings, SECRET, pool_size=1)


def issue(data_dir: Path, lg_code: str = LG) -> Doc:
    """A resident credential issued through the service on ``data_dir`` (as the API would)."""
    svc = services(data_dir)
    try:
        holder = did_key_from_public_key(
            PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32)).public_key
        )
        issued = issue_resident(
            svc.db,
            svc.ring,
            svc.settings,
            lg_code=lg_code,
            holder=holder,
            tier="basic",
            now=datetime.now(UTC),
            source="cli",
            actor="test",
        )
        return issued.credential
    finally:
        svc.close()


def query(data_dir: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Run SQL on the deployment's SQLite file directly (as an intruder with file access)."""
    connection = sqlite3.connect(data_dir / "issuer.db")
    try:
        with connection:
            return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def execute(data_dir: Path, sql: str, *params: object) -> int:
    """Change the deployment's SQLite file directly; returns the number of rows changed."""
    connection = sqlite3.connect(data_dir / "issuer.db")
    try:
        with connection:
            return connection.execute(sql, params).rowcount
    finally:
        connection.close()


def audit_lines(data_dir: Path) -> tuple[int, list[str]]:
    result = cli("audit", "verify", "--data-dir", str(data_dir))
    assert "Traceback" not in result.output
    return result.exit_code, [line for line in result.stdout.splitlines() if line.strip()]


def publish(data_dir: Path, out: Path) -> Path:
    ok(cli("publish", "--data-dir", str(data_dir), "--out", str(out)))
    return out


def read_json(path: Path) -> Doc:
    value: Doc = json.loads(path.read_text("utf-8"))
    return value


def frozen_clock(monkeypatch: pytest.MonkeyPatch, *times: datetime) -> None:
    """issuer.cli's clock returns ``times`` one after the other (then the last one)."""
    queue = list(times)

    def now() -> datetime:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    monkeypatch.setattr(issuer_cli, "_now", now)


class PublishedLists:
    """Status list credentials as ``publish`` wrote them, by their URL (a StatusListSource)."""

    def __init__(self, out: Path, public_url: str) -> None:
        self._out = out
        self._base = public_url.rstrip("/") + "/"

    def get(self, url: str) -> StatusListDocument | None:
        if not url.startswith(self._base):
            return None
        path = self._out / url.removeprefix(self._base)
        if not path.is_file():
            return None
        return StatusListDocument(read_json(path), retrieved_at=datetime.now(UTC))


def published_resolver(out: Path, lg_code: str = LG) -> Resolver:
    document = read_json(out / "lg" / lg_code / "did.json")
    return Resolver(documents={document["id"]: document})


# --- init --------------------------------------------------------------------------------------


def test_init_json_prints_lg_code_did_and_public_url(data_dir: Path) -> None:
    result = ok(cli("init", "--data-dir", str(data_dir), "--lg-code", LG, "--json"))
    assert json.loads(result.stdout) == {
        "lgCode": LG,
        "did": DEFAULT_DID,
        "publicUrl": "http://localhost:8000",
    }
    assert result.stderr == ""
    assert (data_dir / "issuer.db").is_file()
    # the secret came from the environment: nothing is written next to the database
    assert not (data_dir / "secret").exists()


def test_init_without_json_names_the_municipality(data_dir: Path) -> None:
    result = ok(cli("init", "--data-dir", str(data_dir), "--lg-code", LG))
    assert "北海道厚真町" in result.stdout
    assert f"DID: {DEFAULT_DID}" in result.stdout
    assert f"http://localhost:8000/lg/{LG}" in result.stdout


@pytest.mark.parametrize("how", ["option", "environment"])
def test_init_did_follows_the_public_url(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "option":
        printed = init_json(data_dir, "--public-url", EXAMPLE_URL)
    else:
        monkeypatch.setenv("FURUSATO_PUBLIC_URL", EXAMPLE_URL)
        printed = init_json(data_dir)
    assert printed == {
        "lgCode": LG,
        "did": f"did:web:furusato.example.jp:lg:{LG}",
        "publicUrl": EXAMPLE_URL,
    }


def test_init_data_dir_from_the_environment(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FURUSATO_ISSUER_DATA", str(data_dir))
    printed = json.loads(ok(cli("init", "--lg-code", LG, "--json")).stdout)
    assert printed["did"] == DEFAULT_DID
    assert (data_dir / "issuer.db").is_file()


def test_init_did_key(data_dir: Path) -> None:
    printed = init_json(data_dir, "--did-method", "key")
    assert re.fullmatch(r"did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+", printed["did"]), printed
    assert printed["lgCode"] == LG


@pytest.mark.parametrize(
    ("lg_code", "exit_codes", "needle"),
    [
        ("015815", {2}, "015815"),  # wrong check digit (015814 is right)
        ("010006", {1, 2}, "010006"),  # 北海道: a prefecture, not a municipality
        ("019992", {2}, "019992"),  # well formed, not in the MIC table
        ("01581", {2}, "01581"),  # five digits
        ("abcdef", {2}, "abcdef"),
        ("０１５８１４", {2}, "--lg-code"),  # full-width digits
    ],
)
def test_init_refuses_an_invalid_lg_code(
    data_dir: Path, lg_code: str, exit_codes: set[int], needle: str
) -> None:
    result = cli("init", "--data-dir", str(data_dir), "--lg-code", lg_code, "--json")
    assert result.exit_code in exit_codes, result.output
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=[needle])
    # and nothing was created
    listed = cli("keys", "list", "--data-dir", str(data_dir), "--lg-code", lg_code)
    assert listed.exit_code == 1


def test_init_twice_is_a_conflict(tenant_dir: Path) -> None:
    before = query(tenant_dir, "select lg_code, did from tenants")
    result = cli("init", "--data-dir", str(tenant_dir), "--lg-code", LG, "--did-method", "key")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=[LG, "[conflict]"])
    assert query(tenant_dir, "select lg_code, did from tenants") == before
    assert len(query(tenant_dir, "select * from signing_keys")) == 1


def test_init_of_a_second_municipality_in_the_same_deployment(tenant_dir: Path) -> None:
    printed = init_json(tenant_dir, lg_code=OTHER_LG)
    assert printed["did"] == f"did:web:localhost%3A8000:lg:{OTHER_LG}"
    assert sorted(r[0] for r in query(tenant_dir, "select lg_code from tenants")) == [
        OTHER_LG,
        LG,
    ]


def test_init_without_a_secret_and_no_terminal_is_a_usage_error(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FURUSATO_ISSUER_SECRET")
    result = cli("init", "--data-dir", str(data_dir), "--lg-code", LG)  # stdin: not a TTY
    assert result.exit_code == 2
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=["FURUSATO_ISSUER_SECRET"])
    assert not (data_dir / "secret").exists()
    assert not (data_dir / "issuer.db").exists() or not query(data_dir, "select * from tenants")


@pytest.mark.parametrize("secret", ["short", "fifteen-chars!!", "０１２３４５６７８９"])
def test_init_refuses_a_secret_shorter_than_16_characters(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("FURUSATO_ISSUER_SECRET", secret)
    result = cli("init", "--data-dir", str(data_dir), "--lg-code", LG)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=["16"])
    assert not (data_dir / "issuer.db").exists() or not query(data_dir, "select * from tenants")


def test_init_accepts_a_secret_of_exactly_16_characters(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FURUSATO_ISSUER_SECRET", "sixteen-chars-ok")
    assert init_json(data_dir)["did"] == DEFAULT_DID


def test_the_private_key_is_encrypted_at_rest(tenant_dir: Path) -> None:
    rows = query(tenant_dir, "select key_id, sealed_private, public_multikey from signing_keys")
    assert len(rows) == 1
    key_id, sealed_text, multikey = rows[0]
    assert key_id == "key-1"
    envelope = json.loads(sealed_text)
    assert envelope["kdf"] == "scrypt"
    assert envelope["cipher"] == "A256GCM"
    jwk = json.loads(open_sealed(envelope, SECRET))  # the secret opens it …
    private = PrivateKey.from_jwk(jwk)
    assert private.public_key.multikey == multikey  # … and it is this tenant's key
    d_text = jwk["d"]
    d_raw = base64url_decode(d_text)
    assert len(d_raw) == 32
    stored = b"".join(p.read_bytes() for p in sorted(tenant_dir.iterdir()) if p.is_file())
    assert (tenant_dir / "issuer.db").stat().st_size > 0
    for needle in (d_text.encode(), d_raw, d_raw.hex().encode(), json.dumps(jwk).encode()):
        assert needle not in stored, "private key material in clear in the data directory"


# --- keys ----------------------------------------------------------------------------------------


def keys_json(data_dir: Path, lg_code: str = LG) -> list[Doc]:
    listed = ok(cli("keys", "list", "--data-dir", str(data_dir), "--lg-code", lg_code, "--json"))
    value: list[Doc] = json.loads(listed.stdout)
    return value


def test_keys_rotate_retires_key_1_and_makes_key_2_current(
    tenant_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [k["validUntil"] for k in keys_json(tenant_dir)] == [None]
    later = datetime.now(UTC) + timedelta(minutes=1)
    frozen_clock(monkeypatch, later)
    result = ok(cli("keys", "rotate", "--data-dir", str(tenant_dir), "--lg-code", LG))
    assert f"{DEFAULT_DID}#key-2" in result.stdout
    listed = keys_json(tenant_dir)
    assert [k["id"] for k in listed] == [f"{DEFAULT_DID}#key-1", f"{DEFAULT_DID}#key-2"]
    first, second = listed
    assert first["validUntil"] is not None
    assert second["validUntil"] is None
    # Whole seconds (proofs say created in whole seconds): the new key from the second of the
    # rotation, the old one until its end — they overlap by less than a second, no gap.
    overlap = parse_datetime(first["validUntil"], "t") - parse_datetime(second["validFrom"], "t")
    assert timedelta(0) <= overlap <= timedelta(seconds=1)
    assert first["revoked"] is None
    assert second["revoked"] is None
    assert first["publicKeyMultibase"] != second["publicKeyMultibase"]
    text = ok(cli("keys", "list", "--data-dir", str(tenant_dir), "--lg-code", LG)).stdout
    lines = text.splitlines()
    assert "retired" in lines[0]
    assert "key-1" in lines[0]
    assert "current" in lines[1]
    assert "key-2" in lines[1]
    # the DID document lists both, the retired one with its window
    out = publish(tenant_dir, tenant_dir.parent / "pub")
    methods = read_json(out / "lg" / LG / "did.json")["verificationMethod"]
    assert [(m["id"], m.get("validUntil")) for m in methods] == [
        (first["id"], first["validUntil"]),
        (second["id"], None),
    ]
    assert audit_lines(tenant_dir)[0] == 0


def test_keys_rotate_twice_numbers_the_keys(
    tenant_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime.now(UTC)
    frozen_clock(monkeypatch, start + timedelta(minutes=1), start + timedelta(minutes=2))
    for _ in range(2):
        ok(cli("keys", "rotate", "--data-dir", str(tenant_dir), "--lg-code", LG))
    listed = keys_json(tenant_dir)
    assert [k["id"].rpartition("#")[2] for k in listed] == ["key-1", "key-2", "key-3"]
    assert [k["validUntil"] is None for k in listed] == [False, False, True]


def test_keys_rotate_of_a_did_key_tenant_is_refused(data_dir: Path) -> None:
    did = init_json(data_dir, "--did-method", "key")["did"]
    result = cli("keys", "rotate", "--data-dir", str(data_dir), "--lg-code", LG)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=["did:key", "[rotation_unsupported]"])
    listed = keys_json(data_dir)
    assert len(listed) == 1
    assert listed[0]["validUntil"] is None
    assert listed[0]["id"].startswith(did)


@pytest.mark.parametrize("command", [["keys", "rotate"], ["keys", "list"]])
def test_keys_of_an_unknown_municipality(tenant_dir: Path, command: list[str]) -> None:
    result = cli(*command, "--data-dir", str(tenant_dir), "--lg-code", OTHER_LG)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=[OTHER_LG, "[not_found]"])


def test_keys_rotated_within_a_second_still_give_a_valid_registry_entry(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2027, 3, 1, 9, 0, 0, 100_000, tzinfo=UTC)
    frozen_clock(monkeypatch, start, start + timedelta(milliseconds=500))
    init_json(data_dir)
    ok(cli("keys", "rotate", "--data-dir", str(data_dir), "--lg-code", LG))
    result = cli("registry", "entry", "--data-dir", str(data_dir), "--lg-code", LG)
    assert result.exit_code == 0, result.stderr
    RegistryEntry.from_json(json.loads(result.stdout))


@pytest.mark.parametrize(
    "command",
    [["keys", "rotate", "--lg-code", LG], ["init", "--lg-code", OTHER_LG]],
    ids=["keys-rotate", "init-second-tenant"],
)
def test_a_wrong_secret_is_refused_before_sealing_a_new_key(
    tenant_dir: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("FURUSATO_ISSUER_SECRET", "not-the-secret-of-this-deployment")
    wrong = cli(*command, "--data-dir", str(tenant_dir))
    monkeypatch.setenv("FURUSATO_ISSUER_SECRET", SECRET)
    # with the real secret, every municipality of the deployment can still sign
    published = cli("publish", "--data-dir", str(tenant_dir), "--out", str(tenant_dir / "pub"))
    assert published.exit_code == 0, published.stderr
    assert wrong.exit_code in (1, 2)
    assert_one_line_error(wrong.stderr)


# --- token create --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "staff", "auditor"])
def test_token_create_prints_the_token_alone_on_the_last_line(tenant_dir: Path, role: str) -> None:
    result = ok(
        cli("token", "create", "--data-dir", str(tenant_dir), "--lg-code", LG, "--role", role)
    )
    last = result.stdout.splitlines()[-1]
    assert TOKEN.fullmatch(last), last
    assert "shown only once" in result.stderr
    # stored hashed: the token text is nowhere in the database
    assert last.encode() not in (tenant_dir / "issuer.db").read_bytes()
    assert query(tenant_dir, "select role from api_tokens") == [(role,)]


def test_token_create_gives_a_token_the_api_accepts(tenant_dir: Path) -> None:
    result = ok(
        cli("token", "create", "--data-dir", str(tenant_dir), "--lg-code", LG, "--role", "staff")
    )
    token = result.stdout.splitlines()[-1]
    svc = services(tenant_dir)
    try:
        with TestClient(create_app(svc), base_url="http://localhost:8000") as client:
            good = client.get(
                "/admin/api/credentials", headers={"Authorization": f"Bearer {token}"}
            )
            bad = client.get(
                "/admin/api/credentials", headers={"Authorization": f"Bearer {token}x"}
            )
    finally:
        svc.close()
    assert good.status_code == 200, good.text
    assert good.json() == {"credentials": []}
    assert bad.status_code == 401


def test_token_create_twice_gives_different_tokens(tenant_dir: Path) -> None:
    args = ("token", "create", "--data-dir", str(tenant_dir), "--lg-code", LG, "--role", "staff")
    first, second = ok(cli(*args)), ok(cli(*args))
    assert first.stdout.splitlines()[-1] != second.stdout.splitlines()[-1]


@pytest.mark.parametrize("role", ["root", "Staff", ""])
def test_token_create_unknown_role_is_a_usage_error(tenant_dir: Path, role: str) -> None:
    result = cli("token", "create", "--data-dir", str(tenant_dir), "--lg-code", LG, "--role", role)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=["--role"])
    assert query(tenant_dir, "select * from api_tokens") == []


def test_token_create_for_an_unknown_municipality(tenant_dir: Path) -> None:
    result = cli(
        "token", "create", "--data-dir", str(tenant_dir), "--lg-code", OTHER_LG, "--role", "staff"
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=[OTHER_LG])


# --- offer ---------------------------------------------------------------------------------------


def offer_uri_of(result: Result) -> str:
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith("openid-credential-offer://?credential_offer_uri="), lines[0]
    return lines[0]


def fetch_offer(data_dir: Path, uri: str) -> Doc:
    """The credential offer the URI refers to, from the app on the same data directory."""
    offer_url = parse_qs(urlsplit(uri).query)["credential_offer_uri"][0]
    assert offer_url.startswith(f"http://localhost:8000/lg/{LG}/offers/"), offer_url
    svc = services(data_dir)
    try:
        with TestClient(create_app(svc), base_url="http://localhost:8000") as client:
            response = client.get(urlsplit(offer_url).path)
    finally:
        svc.close()
    assert response.status_code == 200, response.text
    body: Doc = response.json()
    return body


def test_offer_prints_a_credential_offer_uri(tenant_dir: Path) -> None:
    result = ok(cli("offer", "--data-dir", str(tenant_dir), "--lg-code", LG))
    uri = offer_uri_of(result)
    assert result.stderr == ""
    offer = fetch_offer(tenant_dir, uri)
    assert offer["credential_issuer"] == f"http://localhost:8000/lg/{LG}"
    grant = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    assert grant["pre-authorized_code"]
    assert "tx_code" not in grant


def test_offer_with_tx_code_prints_the_code_on_stderr(tenant_dir: Path) -> None:
    result = ok(cli("offer", "--data-dir", str(tenant_dir), "--lg-code", LG, "--tx-code"))
    uri = offer_uri_of(result)
    match = re.search(r"transaction code: (\d{6})\s*$", result.stderr)
    assert match, result.stderr
    assert match.group(1) not in result.stdout
    grant = fetch_offer(tenant_dir, uri)["grants"][
        "urn:ietf:params:oauth:grant-type:pre-authorized_code"
    ]
    assert grant["tx_code"]["length"] == 6


def test_offer_png_is_a_png(tenant_dir: Path, tmp_path: Path) -> None:
    png = tmp_path / "offer.png"
    result = ok(cli("offer", "--data-dir", str(tenant_dir), "--lg-code", LG, "--png", str(png)))
    offer_uri_of(result)
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height, *_ = png_header(data)
    assert width == height >= 21 * 8  # a QR symbol, scale 8


def png_header(data: bytes) -> tuple[int, int, int, int, int]:
    """(width, height, bit depth, colour type, interlace) from IHDR."""
    assert data[12:16] == b"IHDR"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    return width, height, depth, colour, interlace


def png_to_grey(data: bytes) -> tuple[int, int, bytes]:
    """Decode a non-interlaced greyscale or palette PNG (what segno writes) to 8-bit grey."""
    assert data.startswith(PNG_SIGNATURE)
    width, height, depth, colour, interlace = png_header(data)
    assert colour in (0, 3), colour
    assert depth in (1, 2, 4, 8), depth
    assert interlace == 0
    idat, palette, position = b"", b"", 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IDAT":
            idat += body
        elif kind == b"PLTE":
            palette = body
    raw = zlib.decompress(idat)
    stride = (width * depth + 7) // 8
    previous = bytearray(stride)
    grey = bytearray()
    maximum = (1 << depth) - 1
    for y in range(height):
        start = y * (stride + 1)
        kind_of_filter, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = row[i - 1] if i else 0
            up, up_left = previous[i], previous[i - 1] if i else 0
            if kind_of_filter == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind_of_filter == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind_of_filter == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind_of_filter == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                row[i] = (row[i] + predictor) & 0xFF
        for x in range(width):
            bit = x * depth
            sample = (row[bit // 8] >> (8 - depth - bit % 8)) & maximum
            if colour == 0:
                grey.append(sample * 255 // maximum)
            else:
                r, g, b = palette[3 * sample : 3 * sample + 3]
                grey.append((r + g + b) // 3)
        previous = row
    return width, height, bytes(grey)


def test_offer_png_decodes_back_to_the_uri(tenant_dir: Path, tmp_path: Path) -> None:
    png = tmp_path / "offer.png"
    result = ok(cli("offer", "--data-dir", str(tenant_dir), "--lg-code", LG, "--png", str(png)))
    uri = offer_uri_of(result)
    try:
        zxingcpp = importlib.import_module("zxingcpp")
    except ImportError:
        pytest.skip("zxing-cpp is not installed: the QR code was not decoded back")
    width, height, grey = png_to_grey(png.read_bytes())
    decoded = zxingcpp.read_barcode(memoryview(grey).cast("B", (height, width)))
    assert decoded is not None, "no QR code found in the PNG"
    assert decoded.text == uri


def test_offer_png_into_a_missing_directory_is_one_error_line(
    tenant_dir: Path, tmp_path: Path
) -> None:
    png = tmp_path / "no-such-dir" / "offer.png"
    result = cli("offer", "--data-dir", str(tenant_dir), "--lg-code", LG, "--png", str(png))
    assert result.exit_code in (1, 2)
    assert_one_line_error(result.stderr, contains=["no-such-dir"])


def test_offer_for_an_unknown_municipality(tenant_dir: Path) -> None:
    result = cli("offer", "--data-dir", str(tenant_dir), "--lg-code", OTHER_LG)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=[OTHER_LG])
    assert query(tenant_dir, "select * from offers") == []


def test_premium_is_not_offered_at_the_counter(tenant_dir: Path) -> None:
    """Premium goes through an application (docs/premium.md): one error line, nothing stored."""
    result = cli("offer", "--data-dir", str(tenant_dir), "--lg-code", LG, "--tier", "premium")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=["premium_requires_application"])
    assert query(tenant_dir, "select * from offers") == []


# --- revoke / suspend / reinstate ----------------------------------------------------------------


def state_change(data_dir: Path, action: str, credential_id: str, *more: str) -> Result:
    return cli(action, "--data-dir", str(data_dir), "--lg-code", LG, *more, credential_id)


def stored_state(data_dir: Path, credential_id: str) -> str:
    rows = query(data_dir, "select state from credentials where credential_id = ?", credential_id)
    assert len(rows) == 1
    state: str = rows[0][0]
    return state


def status_codes(data_dir: Path, credential: Doc, out: Path) -> list[str]:
    """The status checks' codes when ``credential`` is verified against freshly published
    files (DID document and status lists), without the service."""
    publish(data_dir, out)
    result = verify_credential(
        credential,
        resolver=published_resolver(out),
        options=VerifyOptions(
            now=datetime.now(UTC), status_lists=PublishedLists(out, "http://localhost:8000")
        ),
    )
    return [c.code for c in result.checks if c.check == "status"]


def test_revoke_prints_revoked_and_the_published_list_says_so(
    tenant_dir: Path, tmp_path: Path
) -> None:
    credential = issue(tenant_dir)
    credential_id = credential["id"]
    assert credential_id.startswith("urn:uuid:")
    assert status_codes(tenant_dir, credential, tmp_path / "before") == ["ok", "ok"]
    result = ok(state_change(tenant_dir, "revoke", credential_id, "--reason", "転出 moved"))
    assert result.stdout.strip() == f"{credential_id}: revoked"
    assert stored_state(tenant_dir, credential_id) == "revoked"
    assert "revoked" in status_codes(tenant_dir, credential, tmp_path / "after")
    rows = query(
        tenant_dir,
        "select action, details from audit_log where subject = ? order by seq",
        credential_id,
    )
    assert [r[0] for r in rows] == ["credential.issue", "credential.revoke"]
    assert json.loads(rows[1][1]) == {"reason": "転出 moved"}


def test_suspend_then_reinstate(tenant_dir: Path, tmp_path: Path) -> None:
    credential = issue(tenant_dir)
    credential_id = credential["id"]
    suspended = ok(state_change(tenant_dir, "suspend", credential_id))
    assert suspended.stdout.strip() == f"{credential_id}: suspended"
    assert "suspended" in status_codes(tenant_dir, credential, tmp_path / "suspended")
    again = state_change(tenant_dir, "suspend", credential_id)
    assert again.exit_code == 1
    assert_one_line_error(again.stderr, contains=["[invalid_state]"])
    reinstated = ok(state_change(tenant_dir, "reinstate", credential_id))
    assert reinstated.stdout.strip() == f"{credential_id}: active"
    assert status_codes(tenant_dir, credential, tmp_path / "active") == ["ok", "ok"]
    assert audit_lines(tenant_dir)[0] == 0


@pytest.mark.parametrize("action", ["revoke", "suspend", "reinstate"])
def test_state_change_of_an_unknown_credential(tenant_dir: Path, action: str) -> None:
    issue(tenant_dir)
    unknown = "urn:uuid:00000000-0000-4000-8000-000000000000"
    result = state_change(tenant_dir, action, unknown)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=[unknown, "[not_found]"])


def test_state_change_under_another_municipality_finds_nothing(tenant_dir: Path) -> None:
    init_json(tenant_dir, lg_code=OTHER_LG)
    credential_id = issue(tenant_dir)["id"]
    result = cli("revoke", "--data-dir", str(tenant_dir), "--lg-code", OTHER_LG, credential_id)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["[not_found]"])
    assert stored_state(tenant_dir, credential_id) == "active"


@pytest.mark.parametrize("action", ["reinstate", "revoke", "suspend"])
def test_a_revoked_credential_stays_revoked(tenant_dir: Path, action: str) -> None:
    credential_id = issue(tenant_dir)["id"]
    ok(state_change(tenant_dir, "revoke", credential_id))
    events = len(query(tenant_dir, "select seq from audit_log"))
    result = state_change(tenant_dir, action, credential_id)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=["[invalid_state]"])
    assert stored_state(tenant_dir, credential_id) == "revoked"
    assert len(query(tenant_dir, "select seq from audit_log")) == events


def test_reinstate_of_an_active_credential_is_refused(tenant_dir: Path) -> None:
    credential_id = issue(tenant_dir)["id"]
    result = state_change(tenant_dir, "reinstate", credential_id)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["[invalid_state]"])


def test_state_change_needs_the_credential_id(tenant_dir: Path) -> None:
    result = cli("revoke", "--data-dir", str(tenant_dir), "--lg-code", LG)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["CREDENTIAL_ID"])


# --- audit verify --------------------------------------------------------------------------------


@pytest.fixture
def busy_dir(tenant_dir: Path) -> Path:
    """015814 and 011002 with keys, a rotation, a token, an offer and a revoked credential."""
    init_json(tenant_dir, lg_code=OTHER_LG)
    base = ("--data-dir", str(tenant_dir), "--lg-code", LG)
    ok(cli("token", "create", *base, "--role", "auditor"))
    ok(cli("offer", *base))
    ok(cli("revoke", *base, issue(tenant_dir)["id"]))
    return tenant_dir


def events_of(data_dir: Path, lg_code: str = LG) -> int:
    return len(query(data_dir, "select seq from audit_log where lg_code = ?", lg_code))


def test_audit_verify_intact(busy_dir: Path) -> None:
    code, lines = audit_lines(busy_dir)
    assert code == 0
    assert len(lines) == 2
    assert all(line.startswith("✓ ") for line in lines), lines
    assert lines[0].startswith(f"✓ {OTHER_LG}: 2 ")
    assert lines[1].startswith(f"✓ {LG}: {events_of(busy_dir)} ")
    assert "intact" in lines[1]
    assert "改ざんなし" in lines[1]


def test_audit_verify_json(busy_dir: Path) -> None:
    result = ok(cli("audit", "verify", "--data-dir", str(busy_dir), "--lg-code", LG, "--json"))
    reports = json.loads(result.stdout)
    assert reports == [
        {
            "lg_code": LG,
            "events": events_of(busy_dir),
            "ok": True,
            "first_bad_seq": None,
            "reason": None,
        }
    ]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "credential.reinstate"),
        ("details", '{"reason":"nothing happened"}'),
        ("actor", "someone-else"),
        ("subject", "urn:uuid:00000000-0000-4000-8000-000000000000"),
    ],
)
def test_audit_verify_names_a_tampered_row(busy_dir: Path, column: str, value: str) -> None:
    seq = events_of(busy_dir) - 1  # the credential.issue event before the revoke
    sql = f"update audit_log set {column} = ? where lg_code = ? and seq = ?"
    assert execute(busy_dir, sql, value, LG, seq) == 1
    code, lines = audit_lines(busy_dir)
    assert code == 1
    bad = [line for line in lines if line.startswith("✗ ")]
    assert len(bad) == 1, lines
    assert bad[0].startswith(f"✗ {LG}: {seq} ")
    assert f"tampering at event {seq}" in bad[0]
    assert f"✓ {OTHER_LG}" in "\n".join(lines)  # the other chain is still intact


def test_audit_verify_detects_a_deleted_last_row(busy_dir: Path) -> None:
    last = events_of(busy_dir)
    assert execute(busy_dir, "delete from audit_log where lg_code = ? and seq = ?", LG, last) == 1
    code, lines = audit_lines(busy_dir)
    assert code == 1
    assert any(line.startswith(f"✗ {LG}: {last} ") for line in lines), lines


def test_audit_verify_detects_a_deleted_middle_row(busy_dir: Path) -> None:
    assert execute(busy_dir, "delete from audit_log where lg_code = ? and seq = ?", LG, 3) == 1
    code, lines = audit_lines(busy_dir)
    assert code == 1
    assert any(line.startswith(f"✗ {LG}: 3 ") for line in lines), lines


def test_audit_verify_json_reports_the_tampering(busy_dir: Path) -> None:
    sql = "update audit_log set action = 'key.revoke' where lg_code = ? and seq = 2"
    assert execute(busy_dir, sql, LG) == 1
    result = cli("audit", "verify", "--data-dir", str(busy_dir), "--lg-code", LG, "--json")
    assert result.exit_code == 1
    (report,) = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["first_bad_seq"] == 2


def test_audit_verify_of_an_unknown_municipality_fails(tenant_dir: Path) -> None:
    result = cli("audit", "verify", "--data-dir", str(tenant_dir), "--lg-code", OTHER_LG)
    assert result.exit_code == 1
    assert "✓" not in result.stdout


# --- publish -------------------------------------------------------------------------------------


def test_publish_writes_what_a_static_host_serves(tenant_dir: Path, tmp_path: Path) -> None:
    issue(tenant_dir)
    out = tmp_path / "site"
    result = ok(cli("publish", "--data-dir", str(tenant_dir), "--out", str(out)))
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert f"{len(written)} " in result.stdout
    did_document = read_json(out / "lg" / LG / "did.json")
    assert did_document["id"] == DEFAULT_DID
    assert [m["id"] for m in did_document["verificationMethod"]] == [f"{DEFAULT_DID}#key-1"]
    metadata = read_json(out / ".well-known" / "openid-credential-issuer" / "lg" / LG)
    assert metadata["credential_issuer"] == f"http://localhost:8000/lg/{LG}"
    for purpose in ("revocation", "suspension"):
        assert f"status/{LG}/{purpose}/1" in written
    assert read_json(out / "status" / LG / "index.json") == {
        "lgCode": LG,
        "lists": [
            {"purpose": p, "number": 1, "url": f"http://localhost:8000/status/{LG}/{p}/1"}
            for p in ("revocation", "suspension")
        ],
    }
    contexts = [name for name in written if name.startswith("contexts/")]
    assert "contexts/www.w3.org_ns_credentials_v2.jsonld" in contexts
    for name in contexts:
        assert "@context" in read_json(out / name), name
    assert not [name for name in written if ".publish-" in name]  # no temporary files left


@pytest.mark.parametrize("purpose", ["revocation", "suspension"])
def test_published_status_list_verifies(tenant_dir: Path, tmp_path: Path, purpose: str) -> None:
    credential = issue(tenant_dir)
    entry = next(e for e in credential["credentialStatus"] if e["statusPurpose"] == purpose)
    out = publish(tenant_dir, tmp_path / "site")
    url = f"http://localhost:8000/status/{LG}/{purpose}/1"
    assert entry["statusListCredential"] == url
    status_list = read_json(out / "status" / LG / purpose / "1")
    assert status_list["id"] == url
    assert "BitstringStatusListCredential" in status_list["type"]
    assert status_list["credentialSubject"]["statusPurpose"] == purpose
    assert status_list["issuer"] == DEFAULT_DID
    result = verify_credential(
        status_list,
        resolver=published_resolver(out),
        options=VerifyOptions(now=datetime.now(UTC)),
    )
    assert result.verified, result.to_json()
    # and a changed bit no longer verifies
    tampered = json.loads(json.dumps(status_list))
    tampered["credentialSubject"]["statusPurpose"] = (
        "suspension" if purpose == "revocation" else "revocation"
    )
    again = verify_credential(
        tampered, resolver=published_resolver(out), options=VerifyOptions(now=datetime.now(UTC))
    )
    assert not again.verified


def test_publish_did_key_tenant_writes_no_did_json(data_dir: Path, tmp_path: Path) -> None:
    init_json(data_dir, "--did-method", "key")
    out = publish(data_dir, tmp_path / "site")
    assert not (out / "lg" / LG / "did.json").exists()
    assert (out / ".well-known" / "openid-credential-issuer" / "lg" / LG).is_file()


def test_publish_needs_the_secret(tenant_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FURUSATO_ISSUER_SECRET")
    result = cli("publish", "--data-dir", str(tenant_dir), "--out", str(tenant_dir / "pub"))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["FURUSATO_ISSUER_SECRET"])


# --- registry entry ------------------------------------------------------------------------------


def registry_entry(data_dir: Path, lg_code: str = LG) -> Doc:
    result = ok(cli("registry", "entry", "--data-dir", str(data_dir), "--lg-code", lg_code))
    assert result.stderr == ""
    value: Doc = json.loads(result.stdout)
    return value


def test_registry_entry_is_accepted_by_the_registry(tenant_dir: Path) -> None:
    printed = registry_entry(tenant_dir)
    entry = RegistryEntry.from_json(printed)
    assert entry.lg_code == LG
    assert printed["did"] == DEFAULT_DID
    assert printed["name"] == "厚真町"
    assert printed["prefecture"] == "北海道"
    assert printed["prefectureCode"] == "010006"
    # the default public URL is loopback http: allowed for trying things out
    assert printed["statusBaseUrl"] == f"http://localhost:8000/status/{LG}"
    assert [k["id"] for k in printed["keys"]] == [f"{DEFAULT_DID}#key-1"]


def test_registry_entry_with_an_https_public_url(data_dir: Path) -> None:
    init_json(data_dir, "--public-url", EXAMPLE_URL)
    printed = registry_entry(data_dir)
    RegistryEntry.from_json(printed)
    assert printed["did"] == f"did:web:furusato.example.jp:lg:{LG}"
    assert printed["statusBaseUrl"] == f"{EXAMPLE_URL}/status/{LG}"


def test_registry_entry_lists_a_rotated_key_with_its_window(
    tenant_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen_clock(monkeypatch, datetime.now(UTC) + timedelta(minutes=1))
    ok(cli("keys", "rotate", "--data-dir", str(tenant_dir), "--lg-code", LG))
    printed = registry_entry(tenant_dir)
    RegistryEntry.from_json(printed)
    first, second = printed["keys"]
    overlap = parse_datetime(first["validUntil"], "t") - parse_datetime(second["validFrom"], "t")
    assert timedelta(0) <= overlap <= timedelta(seconds=1)  # whole seconds, no gap
    assert "validUntil" not in second


def test_registry_entry_of_a_did_key_tenant(data_dir: Path) -> None:
    did = init_json(data_dir, "--did-method", "key")["did"]
    printed = registry_entry(data_dir)
    RegistryEntry.from_json(printed)
    assert printed["did"] == did


def test_registry_entry_of_an_unknown_municipality(tenant_dir: Path) -> None:
    result = cli("registry", "entry", "--data-dir", str(tenant_dir), "--lg-code", OTHER_LG)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=[OTHER_LG])


# --- help and usage ------------------------------------------------------------------------------


def command_paths() -> list[list[str]]:
    def walk(command: click.Command, path: list[str]) -> Iterator[list[str]]:
        yield path
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                yield from walk(sub, [*path, name])

    return list(walk(issuer_main, []))


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "main")
def test_every_help_is_bilingual(path: list[str]) -> None:
    result = ok(cli(*path, "--help"))
    assert result.stdout.startswith("Usage: ")
    description = result.stdout.split("\n\n")[1].strip()
    ja, sep, en = description.partition(" / ")
    assert sep, description
    assert JAPANESE.search(ja), description
    assert ENGLISH.search(en), description


REQUIRES_LG_CODE = [
    ["init"],
    ["keys", "rotate"],
    ["keys", "list"],
    ["revoke", "urn:uuid:x"],
    ["suspend", "urn:uuid:x"],
    ["reinstate", "urn:uuid:x"],
    ["offer"],
    ["token", "create", "--role", "staff"],
    ["registry", "entry"],
]


@pytest.mark.parametrize("args", REQUIRES_LG_CODE, ids=lambda a: " ".join(a[:2]))
def test_missing_lg_code_is_one_bilingual_usage_line(data_dir: Path, args: list[str]) -> None:
    result = cli(*args, "--data-dir", str(data_dir))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=["--lg-code", "--help"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["init", "--lg-code", LG, "--did-method", "peer"], "--did-method"),
        (["offer", "--lg-code", LG, "--tier", "gold"], "--tier"),
        (["serve", "--workers", "0"], "--workers"),
        (["serve", "--port", "http"], "--port"),
        (["keys", "spin"], "spin"),
        (["publish"], "--out"),
    ],
)
def test_other_usage_errors(data_dir: Path, args: list[str], needle: str) -> None:
    result = cli(*args, "--data-dir", str(data_dir))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=[needle])


# --- serve (in process: what happens before uvicorn starts) --------------------------------------


def test_serve_refuses_existing_keys_without_their_secret(
    tenant_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FURUSATO_ISSUER_SECRET")
    result = cli("serve", "--data-dir", str(tenant_dir), "--port", str(free_port()))
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["FURUSATO_ISSUER_SECRET"])
    assert not (tenant_dir / "secret").exists()


# --- the installed console script ---------------------------------------------------------------


def issuer_script(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_script("furusato-issuer", *args, cwd=cwd)


def test_console_script_init_token_and_errors(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "data"))
    done = issuer_script(tmp_path, "init", *data, "--lg-code", LG, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["did"] == DEFAULT_DID
    again = issuer_script(tmp_path, "init", *data, "--lg-code", LG)
    assert again.returncode == 1
    assert_one_line_error(again.stderr, contains=["[conflict]"])
    token = issuer_script(tmp_path, "token", "create", *data, "--lg-code", LG, "--role", "staff")
    assert token.returncode == 0, token.stderr
    assert TOKEN.fullmatch(token.stdout.splitlines()[-1])
    revoke = issuer_script(tmp_path, "revoke", *data, "--lg-code", LG, "urn:uuid:nope")
    assert revoke.returncode == 1
    assert_one_line_error(revoke.stderr, contains=["[not_found]"])
    audit = issuer_script(tmp_path, "audit", "verify", *data)
    assert audit.returncode == 0
    assert audit.stdout.startswith(f"✓ {LG}: ")


def test_console_script_without_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FURUSATO_ISSUER_SECRET")
    done = issuer_script(tmp_path, "init", "--data-dir", str(tmp_path / "d"), "--lg-code", LG)
    assert done.returncode == 2
    assert done.stdout == ""
    assert_one_line_error(done.stderr, contains=["FURUSATO_ISSUER_SECRET"])


def test_console_script_help_and_usage_error(tmp_path: Path) -> None:
    helped = issuer_script(tmp_path, "--help")
    assert helped.returncode == 0
    for command in ("init", "keys", "offer", "token", "audit", "publish", "serve", "registry"):
        assert re.search(rf"^\s+{command}\s", helped.stdout, re.MULTILINE), command
    usage = issuer_script(tmp_path, "offer")
    assert usage.returncode == 2
    assert_one_line_error(usage.stderr, contains=["--lg-code"])


# --- serve: the console script as a real server --------------------------------------------------


class Serve:
    """``furusato-issuer serve`` in a subprocess, without FURUSATO_ISSUER_SECRET."""

    def __init__(self, tmp_path: Path, data_dir: Path, port: int, *extra: str) -> None:
        self.port = port
        run = len(list(tmp_path.glob("serve-*.out")))
        self.stdout = tmp_path / f"serve-{run}.out"
        self.stderr = tmp_path / f"serve-{run}.err"
        self.process = start_script(
            "furusato-issuer",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            *extra,
            cwd=tmp_path,
            env=script_env(remove=(*SERVICE_ENV, "DATABASE_URL")),
            stdout=self.stdout,
            stderr=self.stderr,
        )

    def __enter__(self) -> Serve:
        try:
            wait_for_port(self.process, self.port, timeout=SERVE_TIMEOUT, stderr=self.stderr)
        except BaseException:
            stop_process(self.process, signal.SIGKILL)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        stop_process(self.process)

    def stop(self, sig: int) -> int:
        return stop_process(self.process, sig)

    @property
    def output(self) -> str:
        return self.stdout.read_text("utf-8")

    @property
    def errors(self) -> str:
        return self.stderr.read_text("utf-8")

    def printed(self, label: str) -> str | None:
        """The URL (or token) printed after ``label``."""
        match = re.search(rf"{re.escape(label)}: (\S+)", self.output)
        return match.group(1) if match else None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def local(self, url: str) -> str:
        """A printed http://localhost:PORT/… URL, on 127.0.0.1 (the server binds IPv4)."""
        parts = urlsplit(url)
        assert parts.scheme == "http", url
        assert parts.hostname == "localhost", url
        assert parts.port == self.port, url
        return f"{self.base}{parts.path}"


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=30, **kwargs)


def clean_exit(status: int, sig: int, errors: str) -> None:
    """Ended by ``sig`` without a traceback: exit 0, or the signal itself (uvicorn re-raises
    the signal after its graceful shutdown, so a supervisor sees why it ended)."""
    assert status in (0, -sig), (status, errors)
    assert "Traceback" not in errors, errors


@pytest.mark.slow
def test_serve_first_start_then_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    port = free_port()
    with Serve(tmp_path, data_dir, port) as server:
        output = server.output
        registration = server.printed("registration")
        console = server.printed("admin console")
        docs = server.printed("API docs")
        token = server.printed("admin token (shown once)")
        assert registration == f"http://localhost:{port}/lg/{LG}/register", output
        assert console == f"http://localhost:{port}/admin", output
        assert docs == f"http://localhost:{port}/docs", output
        assert token is not None, output
        assert TOKEN.fullmatch(token), output
        # no identity provider configured: said plainly, with where to read how
        assert "premium identity proofing: 未設定 / none (docs/premium.md)" in output
        assert "FURUSATO_ISSUER_SECRET" in output  # the warning about the stored secret
        assert f"did:web:localhost%3A{port}:lg:{LG}" in output

        health = get(f"{server.base}/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        page = get(server.local(registration))
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "厚真町" in page.text
        assert re.search(r"[\u3040-\u30ff]", page.text)  # Japanese sentences (kana)
        assert get(server.local(console)).status_code == 200
        docs_page = get(server.local(docs))
        assert docs_page.status_code == 200
        schema = get(f"{server.base}/openapi.json")
        assert schema.status_code == 200
        assert schema.json()["openapi"].startswith("3.")
        credentials = get(
            f"{server.base}/admin/api/credentials", headers={"Authorization": f"Bearer {token}"}
        )
        assert credentials.status_code == 200, credentials.text
        clean_exit(server.stop(signal.SIGINT), signal.SIGINT, server.errors)

    secret_file = data_dir / "secret"
    assert secret_file.is_file()
    assert secret_file.stat().st_mode & 0o777 == 0o600
    secret = secret_file.read_text("utf-8")
    assert query(data_dir, "pragma integrity_check") == [("ok",)]

    with Serve(tmp_path, data_dir, port) as again:
        output = again.output
        assert "admin token" not in output, output
        assert "fvc_" not in output
        assert "demo municipality" not in output
        assert output.count("registration:") == 1
        assert again.printed("registration") == registration
        assert get(f"{again.base}/healthz").status_code == 200
        # the stored secret was reused: the first run's token works and the key still signs
        issued = httpx.post(
            f"{again.base}/credentials/issue",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "credential": {
                    "@context": ["https://www.w3.org/ns/credentials/v2"],
                    "type": ["VerifiableCredential"],
                    "credentialSubject": {"id": "did:example:alice"},
                },
                "options": {"credentialStatus": {"type": "BitstringStatusListEntry"}},
            },
            timeout=30,
        )
        assert issued.status_code == 201, issued.text
        entry = issued.json()["verifiableCredential"]["credentialStatus"][0]
        status_list = get(again.local(entry["statusListCredential"]))
        assert status_list.status_code == 200, status_list.text
        clean_exit(again.stop(signal.SIGTERM), signal.SIGTERM, again.errors)

    assert secret_file.read_text("utf-8") == secret
    assert query(data_dir, "select lg_code from tenants") == [(LG,)]
    assert query(data_dir, "select role from api_tokens") == [("admin",)]


@pytest.mark.slow
def test_serve_with_two_workers(tmp_path: Path) -> None:
    port = free_port()
    with Serve(tmp_path, tmp_path / "data", port, "--workers", "2") as server:
        assert server.printed("registration") == f"http://localhost:{port}/lg/{LG}/register"
        for _ in range(4):  # more than one request: whichever worker answers
            health = get(f"{server.base}/healthz")
            assert health.status_code == 200
            assert health.json() == {"status": "ok"}
        assert get(f"{server.base}/lg/{LG}/did.json").json()["id"] == (
            f"did:web:localhost%3A{port}:lg:{LG}"
        )
        clean_exit(server.stop(signal.SIGTERM), signal.SIGTERM, server.errors)
