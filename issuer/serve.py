"""``furusato-issuer serve``: first start on a fresh machine, then uvicorn.

With no data yet, it creates everything a person needs to try the service: the data
directory, a random sealing secret kept there (with a warning: set FURUSATO_ISSUER_SECRET in
production), the demo municipality and an admin token, printed once.
"""

from __future__ import annotations

import contextlib
import errno
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


def check_port(host: str, port: int) -> None:
    """Refuse, before anything starts, an address uvicorn could not listen on: a port in use,
    one that needs privileges, a host that is not an address of this machine.  A bind test
    with ``SO_REUSEADDR``, as uvicorn binds (so a port whose last connections are still in
    TIME_WAIT after a restart counts as free)."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        raise ServiceError(
            f"cannot listen on {host}:{port}: {host!r} is not an address of this machine (--host)",
            f"{host}:{port} で待ち受けられません: {host!r} はこのマシンのアドレスではありません "
            "(--host)",
            code="bad_address",
        ) from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                with contextlib.suppress(OSError):
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise _not_listenable(host, port, exc) from None


def _not_listenable(host: str, port: int, exc: OSError) -> ServiceError:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ServiceError(
            f"port {port} is already in use on {host}: choose another --port, or stop what "
            "runs there",
            f"ポート {port} ({host}) は既に使われています。--port で別のポートを指定するか、"
            "動いているものを止めてください",
            code="port_in_use",
        )
    if exc.errno == errno.EACCES:
        return ServiceError(
            f"no permission to listen on {where} (ports below 1024 need privileges: use a port "
            "such as 8000 behind a reverse proxy)",
            f"{where} で待ち受ける権限がありません (1024 未満のポートには権限が必要です。"
            "8000 などを使い、リバースプロキシの後ろに置いてください)",
            code="port_not_permitted",
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ServiceError(
            f"cannot listen on {where}: {host} is not an address of this machine (--host)",
            f"{where} で待ち受けられません: {host} はこのマシンのアドレスではありません (--host)",
            code="bad_address",
        )
    reason = exc.strerror or type(exc).__name__
    return ServiceError(
        f"cannot listen on {where} ({reason})",
        f"{where} で待ち受けられません ({reason})",
        code="cannot_listen",
    )


def run_server(settings: Settings, *, demo_lg_code: str, echo: Callable[[str], None]) -> None:
    """The first start's setup, then uvicorn.  The caller checks the address first
    (:func:`check_port`: a refusal must come before anything is created)."""
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
