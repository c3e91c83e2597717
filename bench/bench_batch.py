"""Batch issuance from a file (``furusato-issuer issue-batch``, issuer.batch): credentials/s.

Sets up a fresh deployment (a new PostgreSQL database, or SQLite in a temporary directory)
with municipality 015814, writes N registrants (did:key) to a JSON Lines file, and issues
them all, R times: with one signing process per core (the command's default) and, measured in
the same run as the reference, with one signing process.  Prints credentials/s as median, min
and max over the runs, and the ratio.  Each run checks that every status index is unique.

    python bench/bench_batch.py [--count 5000] [--runs 3] [--sqlite]
                                [--admin-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.common import database, machine
from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from issuer.batch import issue_batch
from issuer.bootstrap import open_services
from issuer.settings import Settings
from issuer.tenants import create_tenant

SECRET = "bench-batch-secret-0123456789"
LG = "015814"


def one_run(database_url: str, work: Path, source: Path, workers: int) -> float:
    settings = Settings(
        data_dir=work / f"data-{secrets.token_hex(3)}",
        database_url=database_url,
        secret=SECRET,
        public_url="https://furusato.example.jp",
    )
    svc = open_services(settings, SECRET, pool_size=4)
    try:
        with svc.db.transaction() as session:
            create_tenant(
                session,
                svc.ring,
                lg_code=LG,
                public_url=settings.public_url,
                did_method="web",
                now=datetime.now(UTC),
                random_bytes=secrets.token_bytes,
            )
        out = work / f"out-{secrets.token_hex(3)}.jsonl"
        start = time.perf_counter()
        report = issue_batch(svc, LG, source, out, now=lambda: datetime.now(UTC), workers=workers)
        elapsed = time.perf_counter() - start
        indexes = set()
        for line in out.read_text("utf-8").splitlines():
            for entry in json.loads(line)["credential"]["credentialStatus"]:
                indexes.add((entry["statusListCredential"], entry["statusListIndex"]))
        assert len(indexes) == 2 * report.issued, "a status index was used twice"
        return report.issued / elapsed
    finally:
        svc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"# {machine()}; {'SQLite' if args.sqlite else 'PostgreSQL'}; {args.count} credentials")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "registrants.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            for _ in range(args.count):
                key = PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32))
                handle.write(json.dumps({"holder": did_key_from_public_key(key.public_key)}) + "\n")
        rates: dict[int, list[float]] = {cores: [], 1: []}
        backend = "sqlite" if args.sqlite else "postgresql"
        for run in range(args.runs):
            for workers in rates:
                directory = work / f"run-{run}-{workers}"
                directory.mkdir()
                with database(backend, directory, args.admin_url, prefix="bench_batch") as url:
                    if url is None:
                        return
                    rates[workers].append(one_run(url, work, source, workers))
        for workers, values in rates.items():
            print(
                f"issue-batch, {workers} signing process(es): median {statistics.median(values):,.0f}"
                f"/s  min {min(values):,.0f}  max {max(values):,.0f}  (n={len(values)})"
            )
        ratio = statistics.median(rates[cores]) / statistics.median(rates[1])
        print(f"ratio {cores} processes / 1 process: {ratio:.2f}")


if __name__ == "__main__":
    main()
