"""``furusato-issuer serve``: first start on a fresh machine, then uvicorn.

With no data yet, it creates everything a person needs to try the service: the data
directory, a random sealing secret kept there (with a warning: set FURUSATO_ISSUER_SECRET in
production), the demo municipality and an admin token, printed once.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Self

import uvicorn

from issuer.app import create_app
from issuer.auth import create_token
from issuer.bootstrap import create_stored_secret, open_services, stored_secret
from issuer.db import Database, migrate
from issuer.errors import ServiceError
from issuer.settings import Settings
from issuer.tenants import create_tenant, list_tenants


def _has_tenants(settings: Settings) -> bool:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url, pool_size=1)
    try:
        migrate(database)
        with database.read() as session:
            return bool(list_tenants(session))
    finally:
        database.dispose()


def run_server(settings: Settings, *, demo_lg_code: str, echo: Callable[[str], None]) -> None:
    first_start = not _has_tenants(settings)
    secret = settings.secret or stored_secret(settings.data_dir)
    if secret is None:
        if not first_start:
            raise ServiceError(
                "set FURUSATO_ISSUER_SECRET: the existing keys are sealed with it",
                "FURUSATO_ISSUER_SECRET を設定してください "
                "(既存の鍵はこの秘密で暗号化されています)",
                code="no_secret",
            )
        secret = create_stored_secret(settings.data_dir)
        echo("注意: 鍵を守る秘密をデータディレクトリに作成しました。")
        echo("      本番では FURUSATO_ISSUER_SECRET を設定してください。")
        echo("Note: a sealing secret was created in the data directory;")
        echo("      set FURUSATO_ISSUER_SECRET in production.")
    svc = open_services(settings, secret, pool_size=max(5, 2 * settings.workers))
    now = datetime.now(UTC)
    admin_token = None
    if first_start:
        with svc.db.transaction() as session:
            tenant = create_tenant(
                session,
                svc.ring,
                lg_code=demo_lg_code,
                public_url=settings.public_url,
                did_method="web",
                now=now,
                random_bytes=secrets.token_bytes,
                actor="serve",
            )
            admin_token = create_token(
                session, tenant.lg_code, "admin", name="demo admin", now=now, actor="serve"
            )
        echo(
            f"デモ自治体を作成しました / demo municipality: {tenant.prefecture}{tenant.name} "
            f"({tenant.lg_code}) {tenant.did}"
        )
    with svc.db.read() as session:
        tenants = list_tenants(session)
    base = settings.base_url
    backend = "PostgreSQL" if settings.database_url else "SQLite"
    echo(f"データ / data: {settings.data_dir} ({backend})")
    for tenant in tenants:
        echo(f"登録ページ / registration: {base}/lg/{tenant.lg_code}/register  ({tenant.name})")
    methods = ", ".join(svc.identity.methods) or "未設定 / none (docs/premium.md)"
    echo(f"プレミアム登録の本人確認 / premium identity proofing: {methods}")
    echo(f"管理コンソール / admin console: {base}/admin")
    echo(f"API ドキュメント / API docs: {base}/docs  (OpenAPI: {base}/openapi.json)")
    if admin_token:
        echo(f"管理トークン (一度だけ表示) / admin token (shown once): {admin_token}")
    if settings.workers == 1:
        uvicorn.run(
            create_app(svc),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            ssl_certfile=settings.ssl_certfile,
            ssl_keyfile=settings.ssl_keyfile,
        )
        return
    svc.close()
    os.environ.update(
        {
            "FURUSATO_ISSUER_DATA": str(settings.data_dir),
            "FURUSATO_ISSUER_SECRET": secret,
            "FURUSATO_PUBLIC_URL": settings.public_url,
            **({"DATABASE_URL": settings.database_url} if settings.database_url else {}),
        }
    )
    uvicorn.run(
        "issuer.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
    )


class BackgroundServer:
    """An ASGI app on a real uvicorn server on loopback, in a thread (the demo, the tests)."""

    def __init__(self, app: Any, port: int, host_name: str = "127.0.0.1") -> None:
        self.port = port
        self.host_name = host_name
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host_name}:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
