"""Issuance load benchmark: N concurrent clients against a running ``furusato-issuer serve``.

Sets up a fresh deployment (a new PostgreSQL database, or SQLite in a temporary data
directory), creates municipality 015814 and a staff token with the CLI, starts
``furusato-issuer serve --workers W`` as a subprocess, then runs N asyncio clients
(httpx.AsyncClient) that issue FurusatoResidentCredentials through the VC-API
(``POST /credentials/issue`` with ``options.credentialStatus``) for a warm-up and then for
the measured duration.  Prints issued/s, latency p50/p99/min/max, errors, and checks at the
end that no status index was handed out twice (in the responses and in the database).

    python bench/bench_issue.py [--clients 32] [--duration 20] [--warmup 5] [--workers 2]
                                [--fresh-connections] [--sqlite] [--profile FILE --workers 1]
                                [--admin-url postgresql://postgres@127.0.0.1:5432/test]

The clients run on the same machine as the server and take CPU from it: the script prints
how busy the machine was over the measured window and how much of it went to the server (per
process) and to itself, so that a shared or overloaded machine shows in the figures.  With
keep-alive connections (the default) uvicorn's workers may not share the clients evenly; the
per-process CPU shows it, and ``--fresh-connections`` opens a connection per request instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine
from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from issuer.db import Database, IssuedCredential, StatusEntry
from schemas.municipalities import municipality_table
from vc.furusato import resident_credential
from vc.statuslist import parse_status_entries

LG = "015814"
ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
HOLDERS = 64


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def psycopg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextlib.contextmanager
def fresh_postgres(admin_url: str, keep: bool) -> Iterator[str]:
    name = f"furusato_bench_{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(3)}"
    admin = create_engine(psycopg_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["furusato-issuer", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"furusato-issuer {args[0]} failed: {done.stderr or done.stdout}")
    return done.stdout


@contextlib.contextmanager
def server(
    data_dir: Path,
    database_url: str | None,
    port: int,
    workers: int,
    env: dict[str, str],
    profile: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    db = ["--database-url", database_url] if database_url else []
    # with --profile: the one worker runs under cProfile (stats written when it stops)
    program = (
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "issuer.cli"]
        if profile
        else ["furusato-issuer"]
    )
    command = [
        *program,
        "serve",
        "--data-dir",
        str(data_dir),
        *db,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited: {(data_dir / 'serve.log').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start within 60 s")
            time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def request_bodies(issuer: str) -> list[bytes]:
    """Pre-serialized bodies (holders vary), so the clients spend little CPU per request."""
    now = datetime.now(UTC).replace(microsecond=0)
    bodies = []
    for n in range(HOLDERS):
        holder = did_key_from_public_key(
            PrivateKey.from_seed(KeyType.ED25519, (n + 1).to_bytes(32, "big")).public_key
        )
        credential = resident_credential(
            credential_id=None,
            issuer=issuer,
            issuer_name="厚真町",
            municipality=municipality_table().get(LG),
            holder=holder,
            tier="basic",
            registered_since=now.date(),
            valid_from=now,
            valid_until=now + timedelta(days=365),
        )
        body = {
            "credential": credential,
            "options": {"credentialStatus": {"type": "BitstringStatusListEntry"}},
        }
        bodies.append(json.dumps(body, ensure_ascii=False).encode())
    return bodies


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat (0, 0 elsewhere)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [float(x) for x in handle.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by ``pid`` and each live descendant (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/stat", encoding="ascii") as handle:
                fields = handle.read().rpartition(")")[2].split()
            used[current] = (float(fields[11]) + float(fields[12])) / tick
            with open(f"/proc/{current}/task/{current}/children", encoding="ascii") as handle:
                todo.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError, IndexError):
            continue
    return used


@dataclass
class Usage:
    """CPU use over the measured window: the machine's (all cores) and this client's."""

    machine_busy: float = 0.0  # share of all cores, 0–1
    client_cores: float = 0.0  # cores' worth used by the load generator
    server_cores: float = 0.0  # cores' worth used by the server (all its processes)
    per_process: list[float] = field(default_factory=list)  # the same, per process


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    credentials: list[dict[str, Any]] = field(default_factory=list)


async def load(
    url: str,
    token: str,
    bodies: list[bytes],
    clients: int,
    warmup: float,
    duration: float,
    server_pid: int,
    keepalive: bool = True,
) -> tuple[Tally, Tally, float, Usage]:
    """Run ``clients`` loops for warm-up + duration: the warm-up tally, the measured tally,
    the measured seconds and the CPU use meanwhile."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients if keepalive else 0
    )
    warm, measured = Tally(), Tally()
    start = time.perf_counter()
    switch = start + warmup
    stop = switch + duration
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

        async def client(number: int) -> None:
            n = number
            while True:
                began = time.perf_counter()
                if began >= stop:
                    return
                tally = warm if began < switch else measured
                try:
                    response = await http.post(
                        "/credentials/issue", content=bodies[n % len(bodies)], headers=headers
                    )
                except httpx.HTTPError as exc:
                    tally.errors[type(exc).__name__] += 1
                    continue
                finally:
                    n += clients
                took = (time.perf_counter() - began) * 1000
                if response.status_code == 201:
                    tally.latencies_ms.append(took)
                    tally.credentials.append(response.json()["verifiableCredential"])
                else:
                    tally.errors[f"HTTP {response.status_code}"] += 1

        usage = Usage()

        async def watch() -> None:
            await asyncio.sleep(max(0.0, switch - time.perf_counter()))
            busy0, total0 = cpu_times()
            own0 = time.process_time()
            served0 = tree_cpu_seconds(server_pid)
            await asyncio.sleep(max(0.0, stop - time.perf_counter()))
            served1 = tree_cpu_seconds(server_pid)
            usage.per_process = [
                (seconds - served0.get(pid, 0.0)) / duration for pid, seconds in served1.items()
            ]
            usage.server_cores = sum(usage.per_process)
            busy1, total1 = cpu_times()
            usage.machine_busy = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0
            usage.client_cores = (time.process_time() - own0) / duration

        await asyncio.gather(watch(), *(client(i) for i in range(clients)))
    return warm, measured, time.perf_counter() - switch, usage


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def duplicate_check(database_url: str, credentials: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(duplicate indexes in the responses, status rows, credential rows) — rows from the
    database, where two entries per credential are expected."""
    seen = Counter(
        (e.purpose, e.list_url, e.index) for c in credentials for e in parse_status_entries(c)
    )
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    database = Database(database_url, pool_size=1)
    try:
        with database.read() as session:
            entries = session.execute(
                select(func.count()).select_from(StatusEntry).where(StatusEntry.lg_code == LG)
            ).scalar_one()
            issued = session.execute(
                select(func.count())
                .select_from(IssuedCredential)
                .where(IssuedCredential.lg_code == LG)
            ).scalar_one()
            distinct = session.execute(
                select(func.count()).select_from(
                    select(StatusEntry.purpose, StatusEntry.list_number, StatusEntry.list_index)
                    .where(StatusEntry.lg_code == LG)
                    .distinct()
                    .subquery()
                )
            ).scalar_one()
    finally:
        database.dispose()
    return duplicates + (entries - distinct), entries, issued


def run(args: argparse.Namespace, database_url: str | None, data_dir: Path) -> int:
    port = args.port or free_port()
    public_url = f"http://localhost:{port}"
    env = {
        **os.environ,
        "FURUSATO_ISSUER_SECRET": secrets.token_urlsafe(24),
        "FURUSATO_ISSUER_DATA": str(data_dir),
    }
    env.pop("DATABASE_URL", None)
    db = ["--database-url", database_url] if database_url else []
    init = json.loads(
        cli("init", *db, "--lg-code", LG, "--public-url", public_url, "--json", env=env)
    )
    token = cli("token", "create", *db, "--lg-code", LG, "--role", "staff", env=env)
    token = token.strip().splitlines()[-1]
    bodies = request_bodies(init["did"])
    backend = "PostgreSQL" if database_url else "SQLite"
    load_before = os.getloadavg()
    with server(data_dir, database_url, port, args.workers, env, args.profile) as process:
        warm, tally, seconds, usage = asyncio.run(
            load(
                public_url,
                token,
                bodies,
                args.clients,
                args.warmup,
                args.duration,
                process.pid,
                keepalive=not args.fresh_connections,
            )
        )
    load_after = os.getloadavg()
    effective_url = database_url or f"sqlite:///{data_dir / 'issuer.db'}"
    duplicates, entries, issued = duplicate_check(
        effective_url, warm.credentials + tally.credentials
    )

    count = len(tally.latencies_ms)
    errors = sum(tally.errors.values()) + sum(warm.errors.values())
    print(f"# furusato-vc issuance benchmark — {dt.date.today()} — {machine()}")
    print(
        f"backend {backend}, {args.workers} uvicorn worker(s), {args.clients} clients"
        f"{' (a new connection per request)' if args.fresh_connections else ''}, "
        f"warm-up {args.warmup:g} s, measured {seconds:.1f} s"
    )
    print(
        "load average before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after
        )
    )
    print(
        f"CPU while measuring: machine {usage.machine_busy:.0%} busy "
        f"({os.cpu_count()} cores); server {usage.server_cores:.2f} cores "
        f"(per process: {', '.join(f'{c:.2f}' for c in usage.per_process)}), "
        f"load generator {usage.client_cores:.2f} core"
    )
    if count:
        lat = tally.latencies_ms
        print(
            f"issued {count} in {seconds:.1f} s: {count / seconds:,.1f} credentials/s; "
            f"latency p50 {statistics.median(lat):.1f} ms, p99 {percentile(lat, 0.99):.1f} ms, "
            f"min {min(lat):.1f} ms, max {max(lat):.1f} ms"
        )
    else:
        print("issued nothing")
    print(
        f"errors {errors} {dict(tally.errors + warm.errors) or ''}".rstrip()
        + f"; duplicate status indexes {duplicates} "
        f"(database: {issued} credentials, {entries} status entries)"
    )
    ok = count > 0 and duplicates == 0 and entries == 2 * issued
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--fresh-connections",
        action="store_true",
        help="a new TCP connection per request (spreads requests over the workers)",
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--admin-url", default=ADMIN_URL, help="where to create the database")
    parser.add_argument("--keep", action="store_true", help="keep the database and data dir")
    parser.add_argument(
        "--profile", type=Path, help="run the server (1 worker) under cProfile, stats to FILE"
    )
    args = parser.parse_args()
    if args.profile and args.workers != 1:
        parser.error("--profile needs --workers 1")

    with contextlib.ExitStack() as stack:
        if args.keep:
            data_dir = Path(tempfile.mkdtemp(prefix="furusato-bench-"))
            print(f"data directory: {data_dir}", file=sys.stderr)
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        database_url = (
            None if args.sqlite else stack.enter_context(fresh_postgres(args.admin_url, args.keep))
        )
        code = run(args, database_url, data_dir)
    sys.exit(code)


if __name__ == "__main__":
    main()
