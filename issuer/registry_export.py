"""``furusato-issuer registry entry``: a municipality exports its own registry entry.

The entry (lgCode, names, prefecture, DID, every key with its validity window, the
status-list base URL) goes to the national registry operator, who adds it with
``registry add``.
"""

from __future__ import annotations

from pathlib import Path

import click

from issuer.bootstrap import open_services, stored_secret
from issuer.settings import Settings
from issuer.tenants import did_document, get_tenant
from shellkit.cli import FAILED, guarded, print_json
from vc.registry import entry_from_did_document


@click.command(
    "entry",
    help="この自治体の登録項目 (JSON) を出力します / Print this municipality's registry entry",
)
@click.option(
    "--data-dir", envvar="FURUSATO_ISSUER_DATA", type=click.Path(file_okay=False, path_type=Path)
)
@click.option("--database-url", envvar="DATABASE_URL", help="PostgreSQL の URL / PostgreSQL URL")
@click.option("--lg-code", required=True, help="自治体コード (6桁) / local government code")
def registry_entry(data_dir: Path | None, database_url: str | None, lg_code: str) -> None:
    settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    secret = settings.secret or stored_secret(settings.data_dir) or ""
    svc = guarded(FAILED, lambda: open_services(settings, secret, pool_size=1, check=False))
    with svc.db.read() as session:
        tenant = guarded(FAILED, lambda: get_tenant(session, lg_code))
        document = did_document(session, tenant)
    entry = guarded(
        FAILED,
        lambda: entry_from_did_document(
            document, lg_code=lg_code, status_base_url=f"{tenant.public_url}/status/{lg_code}"
        ),
    )
    print_json(entry.to_json())
