"""Timing helpers for the benchmarks: repeated runs, median/min/max, machine description."""

from __future__ import annotations

import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text


@dataclass(frozen=True)
class Timing:
    name: str
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def minimum(self) -> float:
        return min(self.samples_ms)

    @property
    def maximum(self) -> float:
        return max(self.samples_ms)

    @property
    def per_second(self) -> float:
        return 1000.0 / self.median

    def line(self) -> str:
        return (
            f"{self.name:<44} median {self.median:8.3f} ms  min {self.minimum:8.3f}  "
            f"max {self.maximum:8.3f}  ({self.per_second:,.0f}/s, n={len(self.samples_ms)})"
        )


def measure(name: str, action: Callable[[], object], *, runs: int, warmup: int = 20) -> Timing:
    """Run ``action`` ``warmup`` times untimed, then ``runs`` times, one sample per call."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        action()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return Timing(name, samples)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


@contextmanager
def database(
    backend: str, directory: Path, admin_url: str, *, prefix: str = "furusato_bench"
) -> Iterator[str | None]:
    """A fresh database URL — SQLite in ``directory``, or a new PostgreSQL database dropped
    afterwards — or None when the PostgreSQL server does not answer."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'issuer.db'}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure means: not reachable
        print(f"PostgreSQL at {admin_url} not reachable ({type(exc).__name__}): skipped")
        yield None
        return
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
