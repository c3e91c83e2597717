"""The offline verifier at national scale (issue 5).

Run: ``python bench/bench_verify.py [--runs 200] [--cli-runs 10] [--sync-runs 3]``

1. A registry of all 1,741 municipalities of the MIC table with their 3,482 signed status
   lists (bench/national.py), served by a static HTTP server on loopback.
2. ``sync`` into an empty cache (the first sync of a device) and into a synced one, against
   the reference of fetching the same files without verifying anything (same run).
3. Verify a QR payload end to end from that cache (decode, both proofs, registry trust,
   status from the cached lists, policy, replay log): in process, against the reference of
   the core ``verify`` of the same presentation with a one-entry registry and the lists in
   memory (same run).
4. The whole ``furusato-verifier verify`` process, against ``python -c pass`` and
   ``furusato-verifier --version`` (interpreter start and imports; same run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.common import Timing, machine, measure
from bench.national import AUTHORITY_KEY, build_national, holder_credential
from did.resolver import Resolver
from vc import envelope
from vc.model import as_list
from vc.registry import Registry
from vc.statuslist import StatusListDocument
from vc.verify import VerifyOptions, verify_presentation
from verifier.cache import VerifierCache
from verifier.check import check, issuer_lookup
from verifier.policy import Policy
from verifier.sync import sync

LG = "015814"
CHALLENGE = "q83vEjRWeJq8"


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://localhost:{server.server_address[1]}"


def seconds(name: str, samples: list[float]) -> Timing:
    return Timing(name, [s * 1000 for s in samples])


def fetch_everything(base_url: str, registry: Registry) -> None:
    """The reference: GET the registry, every index and every list, verify nothing."""
    with httpx.Client(timeout=30) as client:
        client.get(f"{base_url}/registry.jws").raise_for_status()

        def one(lg_code: str) -> None:
            base = f"{base_url}/status/{lg_code}"
            client.get(f"{base}/index.json").raise_for_status()
            for purpose in ("revocation", "suspension"):
                client.get(f"{base}/{purpose}/1").raise_for_status()

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, [e.lg_code for e in registry.entries]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cli-runs", type=int, default=10)
    parser.add_argument("--sync-runs", type=int, default=3)
    args = parser.parse_args()
    print(f"# furusato-vc offline verifier benchmark — {dt.date.today()} — {machine()}")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        public = root / "public"
        public.mkdir()
        server, base_url = serve(public)
        now = datetime.now(UTC)
        started = time.perf_counter()
        national = build_national(public, base_url, now=now)
        print(
            f"fixture: {len(national.lg_codes)} municipalities, {2 * len(national.lg_codes)} "
            f"status lists, registry {len(national.jws):,} bytes, generated in "
            f"{time.perf_counter() - started:.1f} s"
        )

        # 2. sync
        first, again, reference = [], [], []
        for attempt in range(args.sync_runs):
            cache = VerifierCache(root / f"cache-{attempt}")
            start = time.perf_counter()
            report = sync(
                cache,
                registry_source=f"{base_url}/registry.jws",
                authority=AUTHORITY_KEY.public_key,
                now=datetime.now(UTC),
            )
            first.append(time.perf_counter() - start)
            assert report.complete, report.to_json()
            assert report.lists == 3482, report.to_json()
            start = time.perf_counter()
            sync(
                cache,
                registry_source=f"{base_url}/registry.jws",
                authority=None,
                now=datetime.now(UTC),
            )
            again.append(time.perf_counter() - start)
            start = time.perf_counter()
            fetch_everything(base_url, national.registry)
            reference.append(time.perf_counter() - start)
        timings = [
            seconds("sync, empty cache (1,741 municipalities)", first),
            seconds("sync, synced cache (same sequence)", again),
            seconds("reference: GET the same files, no checks", reference),
        ]
        for timing in timings:
            print(timing.line().replace("ms ", "ms ", 1))
        print(
            f"sync / fetch-only: {timings[0].median / timings[2].median:.1f}× "
            f"({timings[0].median / 1000 / 3482 * 1000:.2f} ms per status list)"
        )
        server.shutdown()

        # 3. verify in process, from the national cache
        cache = VerifierCache(root / "cache-0")
        registry = cache.registry(datetime.now(UTC))
        assert registry is not None
        holder = holder_credential(base_url, LG, now=now)
        payload = holder.payload(at=datetime.now(UTC), challenge=CHALLENGE)
        policy = Policy()

        def from_cache() -> None:
            result = check(
                payload,
                policy=policy,
                now=datetime.now(UTC),
                registry=registry,
                status_lists=cache,
                replay=cache,
                challenge=CHALLENGE,
            )
            assert result.verified, result.to_json()

        one_entry = Registry(
            sequence=1,
            issued_at=registry.issued_at,
            next_update=registry.next_update,
            entries=[e for e in registry.entries if e.lg_code == LG],
            authority="reference",
        )
        urls = [
            str(e["statusListCredential"]) for e in as_list(holder.credential["credentialStatus"])
        ]
        in_memory = {url: cache.get(url) for url in urls}
        resolver = Resolver(documents=one_entry.did_documents())

        class Lists:
            def get(self, url: str) -> StatusListDocument | None:
                return in_memory.get(url)

        decoded = envelope.decode(payload, issuer_for=issuer_lookup(registry))

        def core() -> None:
            result = verify_presentation(
                decoded,
                resolver=resolver,
                options=VerifyOptions(
                    now=datetime.now(UTC),
                    challenge=CHALLENGE,
                    domain=envelope.QR_DOMAIN,
                    presentation_max_age=timedelta(minutes=2),
                    require_holder_binding=True,
                    registry=one_entry,
                    status_lists=Lists(),
                ),
            )
            assert result.verified, result.to_json()

        in_process = [
            measure("verify QR from the national cache (check())", from_cache, runs=args.runs),
            measure(
                "reference: core verify, 1-entry registry, lists in memory", core, runs=args.runs
            ),
        ]
        for timing in in_process:
            print(timing.line())
        print(f"national cache / core: {in_process[0].median / in_process[1].median:.2f}×")

        # 4. the whole process
        script = Path(sys.executable).with_name("furusato-verifier")

        def run(argv: list[str]) -> float:
            start = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, check=False)
            elapsed = (time.perf_counter() - start) * 1000
            assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
            return elapsed

        cli, python, version = [], [], []
        for _ in range(args.cli_runs):
            fresh = holder.payload(at=datetime.now(UTC), challenge=CHALLENGE)
            cli.append(
                run(
                    [
                        str(script),
                        "verify",
                        fresh,
                        "--cache-dir",
                        str(cache.directory),
                        "--challenge",
                        CHALLENGE,
                    ]
                )
            )
            python.append(run([sys.executable, "-c", "pass"]))
            version.append(run([str(script), "--version"]))
        processes = [
            Timing("furusato-verifier verify PAYLOAD (whole process)", cli),
            Timing("reference: furusato-verifier --version", version),
            Timing("reference: python -c pass", python),
        ]
        for timing in processes:
            print(timing.line())
        print(
            f"verify process − --version: {processes[0].median - processes[1].median:.0f} ms "
            "(imports of the verification path + the check)"
        )


if __name__ == "__main__":
    main()
