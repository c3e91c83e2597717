"""The statistics page of a municipality with 50,000 registrations (issue 8).

Run: ``python bench/bench_stats.py [--runs 20] [--browser-runs 10] [--registrations 50000]
[--sqlite-only] [--admin-url postgresql://postgres@127.0.0.1:5432/test]``

For SQLite (a file in a temporary directory) and, when it answers, PostgreSQL (a new database
on the server of ``--admin-url``, dropped afterwards):

1. the generated year of tests/stats/dataset.py (50,000 registrations over the 12 months
   before 2027-03-15, 2,000 older ones, renewals, moves to premium, revocations, suspensions,
   ≈ 32,000 activities, ≈ 4,300 premium applications; a smaller municipality beside it),
   written through the schema's tables, every credential row with the text of a real signed
   credential (≈ 1.3 kB: SQLite keeps it in the row, so it is what a scan reads);
2. server time: ``GET /admin/stats`` in process (Starlette's TestClient, signed in with the
   console cookie) — authentication, the aggregate queries, the page template — and, apart,
   the queries alone (``issuer.stats.tenant_figures``), ``GET /admin/api/stats`` and the
   national aggregate's queries (``issuer.stats.national_counts``, which the endpoint caches);
3. browser time: headless Chromium (Playwright) on a real uvicorn server on loopback loads the
   page, signed in: the navigation from request to the ``load`` event (Navigation Timing), and
   the wall time of ``page.goto`` around it.

Prints median / min / max per operation and the machine's load average before and after: the
machine is shared, and a busy one shows in the figures.  The goal is under one second.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from bench.common import Timing, database, load, machine, measure
from did.key import did_key_from_public_key
from did.keys import KeyType, generate_private_key
from issuer import issuance, stats
from issuer.app import create_app
from tests.issuer.conftest import LiveServer, World, free_port, make_world
from tests.stats.conftest import LG, populate
from tests.stats.dataset import NOW

ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def signed_document(world: World) -> str:
    """The stored text of a real credential of the municipality (the generated rows carry a copy
    of it: on SQLite, a scan of ``credentials`` reads them)."""
    holder = did_key_from_public_key(
        generate_private_key(KeyType.ED25519, secrets.token_bytes).public_key
    )
    issued = issuance.issue_resident(
        world.svc.db,
        world.svc.ring,
        world.svc.settings,
        lg_code=LG,
        holder=holder,
        tier="basic",
        now=datetime.now(UTC),
        source="bench",
        actor="bench",
    )
    return issued.record.document


def server_times(world: World, runs: int) -> list[Timing]:
    app = create_app(world.svc)
    period = stats.parse_period(None, None, NOW)
    with TestClient(app, base_url="http://localhost:8000") as client:
        signed_in = client.post(
            "/admin/login", data={"token": world.staff_token}, follow_redirects=False
        )
        assert signed_in.status_code == 303, signed_in.text
        bearer = {"Authorization": f"Bearer {world.auditor_token}"}

        def page() -> None:
            answer = client.get("/admin/stats")
            assert answer.status_code == 200
            assert "登録の動き" in answer.text

        def api() -> None:
            assert client.get("/admin/api/stats", headers=bearer).status_code == 200

        def queries() -> None:
            with world.svc.db.read() as session:
                stats.tenant_figures(session, LG, period, now=NOW)

        def national() -> None:
            with world.svc.db.read() as session:
                stats.national_counts(session, NOW)

        return [
            measure("GET /admin/stats (server, in process)", page, runs=runs, warmup=2),
            measure("  of which the queries (tenant_figures)", queries, runs=runs, warmup=2),
            measure("GET /admin/api/stats (server, in process)", api, runs=runs, warmup=2),
            measure("national aggregate queries (uncached)", national, runs=runs, warmup=1),
        ]


def browser_times(world: World, port: int, runs: int) -> list[Timing]:
    from playwright.sync_api import sync_playwright

    navigation: list[float] = []
    wall: list[float] = []
    with LiveServer(world, port) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url + "/admin")
        page.fill("#token", world.staff_token)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/admin")
        for i in range(runs + 2):
            start = time.perf_counter()
            page.goto(server.url + "/admin/stats", wait_until="load")
            elapsed = (time.perf_counter() - start) * 1000
            entry: Any = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n.loadEventEnd - n.startTime; }"
            )
            assert page.get_by_role("img", name="登録の動き (月別) / Registrations per month")
            if i >= 2:  # two warm-up loads
                navigation.append(float(entry))
                wall.append(elapsed)
        browser.close()
    return [
        Timing("browser: request to load event (Navigation Timing)", navigation),
        Timing("browser: page.goto wall time", wall),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--browser-runs", type=int, default=10)
    parser.add_argument("--registrations", type=int, default=50_000)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"before: {load()}")
    backends = ["sqlite"] if args.sqlite_only else ["sqlite", "postgresql"]
    for backend in backends:
        with (
            tempfile.TemporaryDirectory() as directory,
            database(
                backend, Path(directory), args.admin_url, prefix="furusato_bench_stats"
            ) as url,
        ):
            if url is None:
                continue
            port = free_port()
            world = make_world(url, Path(directory) / "data", f"http://localhost:{port}")
            started = time.perf_counter()
            document = signed_document(world)
            data = populate(world, registrations=args.registrations, document=document)
            print(
                f"\n{backend}: {len(data.credentials):,} credentials ({len(document):,} bytes "
                "each, a real signed credential), "
                f"{len(data.activities):,} activities, {len(data.applications):,} applications "
                f"generated and inserted in {time.perf_counter() - started:.1f} s"
            )
            try:
                for timing in server_times(world, args.runs):
                    print(timing.line())
                for timing in browser_times(world, port, args.browser_runs):
                    print(timing.line())
            finally:
                world.svc.close()
    print(f"\nafter: {load()}")


if __name__ == "__main__":
    main()
