"""How long ``furusato-issuer demo`` takes, as a newcomer runs it (goal: under a minute).

Each run is the installed console script in a fresh directory, timed from the process start
to its exit; the reference, measured in the same run, is ``furusato-issuer demo --core`` (the
credential story alone: the fixed cost of starting Python and loading the core), so the ratio
says what the service, the wallet and the verifier add.

    python bench/bench_demo.py --runs 5
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timing, machine


def script(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed (pip install -e .)")
    return found


def timed(args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as fresh:
        start = time.perf_counter_ns()
        done = subprocess.run(args, cwd=fresh, capture_output=True, check=False)
        elapsed = (time.perf_counter_ns() - start) / 1e6
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout.decode()[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    issuer = script("furusato-issuer")
    whole = Timing("demo (the whole story)", [])
    core = Timing("demo --core (reference)", [])
    for _ in range(options.runs):  # interleaved, so both see the same machine
        whole.samples_ms.append(timed([issuer, "demo"]))
        core.samples_ms.append(timed([issuer, "demo", "--core"]))
    print(machine())
    for timing in (whole, core):
        print(
            f"{timing.name:<28} median {timing.median / 1000:6.2f} s  "
            f"min {timing.minimum / 1000:6.2f}  max {timing.maximum / 1000:6.2f}  "
            f"(n={len(timing.samples_ms)})"
        )
    print(
        f"whole / core: x{whole.median / core.median:.1f}; "
        f"share of the one-minute goal: {whole.median / 60000:.0%}"
    )


if __name__ == "__main__":
    main()
