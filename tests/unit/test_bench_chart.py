"""The bench page's chart: no two labels overlap, even where the points crowd together (a server
that has saturated: throughput flat while latency climbs), and where a label has no clear place
it is left out rather than drawn over another."""

from __future__ import annotations

import itertools
import re

import pytest

from kit.serving import bench_report
from kit.serving.bench import Sample, summarise

TEXT = re.compile(r'<text x="([\d.-]+)" y="([\d.-]+)"([^>]*)>([^<]*)</text>')
# Glyph box estimate of the test, for `sans-serif` at the chart's 12 px: 0.65 em per character
# (DejaVu Sans digits are 0.636 em wide, Arial's 0.556 em), 0.95 em above the baseline, 0.25 below.
EM, WIDTH, ABOVE, BELOW = 12.0, 0.65, 0.95, 0.25


def boxes(svg: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    out = []
    for x, y, attrs, text in TEXT.findall(svg):
        if "rotate(" in attrs:       # the y axis title, alone in the left margin
            continue
        x, y, width = float(x), float(y), WIDTH * EM * len(text)
        anchor = re.search(r'text-anchor="(\w+)"', attrs)
        anchor = anchor.group(1) if anchor else "start"
        x0 = x if anchor == "start" else x - width if anchor == "end" else x - width / 2
        out.append((text, (x0, y - ABOVE * EM, x0 + width, y + BELOW * EM)))
    return out


def crowded(tokens_per_s: list[float], ttft: list[float]) -> list[dict]:
    levels = []
    for users, tps, first in zip((1, 2, 4, 8, 16, 32), tokens_per_s, ttft, strict=True):
        level = summarise(users, [Sample(ok=True, ttft_s=first, e2e_s=first * 1.2, output_tokens=int(tps))],
                          1.0).to_dict()
        levels.append(level)
    return levels


@pytest.mark.parametrize(("tokens_per_s", "ttft", "objective"), [
    ([50, 95, 170, 180, 182, 183], [0.1, 0.12, 0.2, 0.9, 1.8, 3.5], 2.0),   # saturated: points stack
    ([50, 51, 52, 53, 54, 55], [0.5, 0.5, 0.51, 0.52, 0.52, 0.53], 0.5),      # all on the objective line
    ([10, 20, 40, 80, 160, 320], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1], 1.0),
])
def test_no_two_chart_labels_overlap(tokens_per_s, ttft, objective):
    svg = bench_report.plot_svg(crowded(tokens_per_s, ttft), objective)
    found = boxes(svg)
    clashes = [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(found, 2)
               if box_a[0] < box_b[2] and box_b[0] < box_a[2] and box_a[1] < box_b[3] and box_b[1] < box_a[3]]
    assert clashes == []
    point_labels = [t for t, _ in found if t.endswith(("user", "users"))]
    assert len(point_labels) >= 6            # crowding drops labels, it does not drop them all
    assert "1 user" in point_labels and "32 users" in point_labels
    assert f"TTFT objective {objective:g}s" in svg and svg.count("<circle") == 12
