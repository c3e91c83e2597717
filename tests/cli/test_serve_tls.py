"""``furusato-issuer serve --ssl-certfile/--ssl-keyfile`` answers over TLS (the W3C suites
require https), with a certificate made here for localhost."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cli.helpers import free_port, script_env, start_script, stop_process, wait_for_port


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_serve_over_tls(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    port = free_port()
    process = start_script(
        "furusato-issuer",
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        str(port),
        "--ssl-certfile",
        str(cert),
        "--ssl-keyfile",
        str(key),
        cwd=tmp_path,
        env=script_env(remove=["FURUSATO_ISSUER_SECRET", "DATABASE_URL"]),
        stdout=tmp_path / "out.txt",
        stderr=tmp_path / "err.txt",
    )
    try:
        wait_for_port(process, port, stderr=tmp_path / "err.txt")
        with httpx.Client(verify=str(cert), timeout=10) as client:
            health = client.get(f"https://127.0.0.1:{port}/healthz")
            assert health.status_code == 200
            metadata = client.get(
                f"https://localhost:{port}/.well-known/openid-credential-issuer/lg/015814"
            )
            assert metadata.json()["credential_issuer"] == f"https://localhost:{port}/lg/015814"
        printed = (tmp_path / "out.txt").read_text("utf-8")
        assert f"https://localhost:{port}/lg/015814/register" in printed
    finally:
        stop_process(process)
