"""Start-up time of `kit --help` (goal: <= 0.15 s; dstack takes ~0.9 s, SkyPilot ~1.5 s).

Runs the real entry point in fresh interpreters and prints the median wall time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

GOAL_S = 0.15


def measure(runs: int = 15) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kit", "--help"], check=True,
                       stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    base = []
    for _ in range(15):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - started)
    times = measure()
    median = statistics.median(times)
    print(f"kit --help: median {median * 1000:.0f} ms, min {min(times) * 1000:.0f} ms over "
          f"{len(times)} runs (bare python: {statistics.median(base) * 1000:.0f} ms); "
          f"goal <= {GOAL_S * 1000:.0f} ms: {'met' if median <= GOAL_S else 'NOT met'}")


if __name__ == "__main__":
    main()
