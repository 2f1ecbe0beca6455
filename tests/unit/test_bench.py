"""kit bench's measurements, as folds over samples, and its load loop's bounds."""

from __future__ import annotations

import threading
import time

import pytest

from kit.errors import KitError
from kit.serving import bench_report
from kit.serving.bench import Sample, knee, percentile, run_level, summarise


def test_percentiles_are_nearest_rank():
    values = [0.1 * i for i in range(1, 21)]
    assert percentile(values, 50) == 1.0 and percentile(values, 95) == 1.9
    assert percentile(values, 99) == 2.0 and percentile([], 50) is None


def test_a_level_counts_errors_by_kind_and_measures_only_what_succeeded():
    samples = [Sample(ok=True, ttft_s=0.2, itl_s=[0.05, 0.07], e2e_s=0.5, output_tokens=3),
               Sample(ok=True, ttft_s=0.4, itl_s=[0.06], e2e_s=0.9, output_tokens=2),
               Sample(ok=False, error="connection", e2e_s=0.01),
               Sample(ok=False, error="http-503", e2e_s=0.02),
               Sample(ok=False, error="connection", e2e_s=0.01)]
    level = summarise(2, samples, wall_s=2.0)
    assert level.requests == 5 and level.failed == 3
    assert level.errors == {"connection": 2, "http-503": 1}
    assert level.ttft_s == {"p50": 0.2, "p95": 0.4, "p99": 0.4}
    assert level.itl_s["p95"] == 0.07 and level.e2e_s["p50"] == 0.5
    assert level.output_tokens_per_s == 2.5 and level.requests_per_s == 1.0


def test_the_knee_is_the_last_level_within_the_objective_without_errors():
    def level(c, p95, failed=0):
        samples = [Sample(ok=True, ttft_s=p95, e2e_s=p95, output_tokens=1)] + \
                  [Sample(ok=False, error="timeout")] * failed
        return summarise(c, samples, 1.0)

    assert knee([level(1, 0.3), level(2, 0.9), level(4, 2.5)], 2.0) == 2
    assert knee([level(1, 0.3), level(2, 0.9, failed=1)], 2.0) == 1
    assert knee([level(1, 3.0)], 2.0) is None


def test_a_level_never_exceeds_its_concurrency_or_its_request_count():
    in_flight, peak, lock = 0, 0, threading.Lock()

    def send(_prompt):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.02)
        with lock:
            in_flight -= 1
        return Sample(ok=True, ttft_s=0.01, e2e_s=0.02, output_tokens=1)

    level = run_level(send, [[{"role": "user", "content": "hi"}]], concurrency=3, requests=10,
                      duration_s=60)
    assert level.requests == 10 and peak == 3


def test_a_level_starts_no_request_after_its_duration():
    level = run_level(lambda _p: (time.sleep(0.05), Sample(ok=True, ttft_s=0.01, output_tokens=1))[1],
                      [[{"role": "user", "content": "hi"}]], concurrency=1, requests=10_000,
                      duration_s=0.3)
    assert 2 <= level.requests <= 8 and level.wall_s < 2


def test_prompts_are_the_messages_before_the_last_reply():
    conv = [{"role": "system", "content": "s"}, {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"},
            {"role": "assistant", "content": "a2"}]
    assert bench_report.prompt_of(conv) == conv[:4]


@pytest.mark.parametrize("text", ["", "0,1", "a,b", "1,300"])
def test_bad_levels_are_one_line_errors(text):
    with pytest.raises(KitError, match="--concurrency"):
        bench_report.levels_option(text)


def test_the_plot_has_a_point_per_level_and_the_objective():
    levels = [summarise(c, [Sample(ok=True, ttft_s=0.1 * c, e2e_s=0.3 * c, output_tokens=5)], 1.0).to_dict()
              for c in (1, 2, 4)]
    svg = bench_report.plot_svg(levels, 2.0)
    assert svg.count("<circle") == 6 and "TTFT objective 2s" in svg and "4 users" in svg
