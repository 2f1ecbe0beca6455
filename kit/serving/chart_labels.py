"""Placing text on an inline SVG chart so that no two labels overlap, without a browser to measure.

A label's box is estimated from its font size: TEXT_WIDTH_EM per character (0.65 em: wider than
the average glyph of DejaVu Sans, the usual `sans-serif` on Linux, whose digits are 0.636 em,
and of Arial/Helvetica, 0.556 em), and from 0.95 em above the baseline to 0.25 em below it. A
point label tries a few places around its point, in order, and takes the first one clear of
every box placed so far (other labels, the axes' tick labels, the legend, the points
themselves); where none is clear it is left out (the table beside the chart has the number).
"""

from __future__ import annotations

import html

TEXT_WIDTH_EM = 0.65
ASCENT_EM, DESCENT_EM = 0.95, 0.25
# (dx, dy, anchor) from the point: right below, right above, left above, left below, then further out.
AROUND = ((7, 16, "start"), (7, -8, "start"), (-7, -8, "end"), (-7, 16, "end"),
          (7, 30, "start"), (7, -22, "start"), (-7, -22, "end"), (-7, 30, "end"))

Box = tuple[float, float, float, float]   # x0, y0, x1, y1


def text_box(x: float, y: float, text: str, anchor: str = "start", size: float = 12) -> Box:
    width = TEXT_WIDTH_EM * size * len(text)
    x0 = x if anchor == "start" else x - width if anchor == "end" else x - width / 2
    return (x0, y - ASCENT_EM * size, x0 + width, y + DESCENT_EM * size)


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class Labels:
    """The boxes taken on one chart, and the SVG of the labels placed on it."""

    def __init__(self, area: Box, size: float = 12) -> None:
        self.area = area          # where a point label may go (the chart's inner rectangle)
        self.size = size
        self.taken: list[Box] = []

    def block(self, box: Box) -> None:
        self.taken.append(box)

    def fixed(self, x: float, y: float, text: str, anchor: str = "start", attrs: str = "") -> str:
        """A label whose place is set (tick, legend, axis): drawn, and its box taken."""
        self.block(text_box(x, y, text, anchor, self.size))
        return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{" " + attrs if attrs else ""}>'
                f"{html.escape(text)}</text>")

    def near(self, x: float, y: float, text: str, attrs: str = "") -> str:
        """A point's label in the first clear place around it, or "" when there is none."""
        ax0, ay0, ax1, ay1 = self.area
        for dx, dy, anchor in AROUND:
            box = text_box(x + dx, y + dy, text, anchor, self.size)
            inside = ax0 <= box[0] and box[2] <= ax1 and ay0 <= box[1] and box[3] <= ay1
            if inside and not any(overlaps(box, other) for other in self.taken):
                return self.fixed(x + dx, y + dy, text, anchor, attrs)
        return ""
