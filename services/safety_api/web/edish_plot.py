"""Geometry of the server-rendered eDISH plot: plain values in, SVG coordinates out.

Both axes are log10 from 0.1 to 100 x ULN (FDA eDISH; Watkins et al., Drug Saf 2011;34:243):
x is the subject's peak aminotransferase (the higher of peak ALT and peak AST, "ALT or AST" as
in Hy's law and in the quadrant the report gives), y the peak total bilirubin. Reference lines
at 3 x ULN (x) and 2 x ULN (y). A peak outside the axes is drawn on the edge and flagged, so no
subject silently disappears.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

AXIS_MIN, AXIS_MAX = 0.1, 100.0
TICKS = (0.1, 1.0, 3.0, 10.0, 100.0)
Y_TICKS = (0.1, 1.0, 2.0, 10.0, 100.0)
AMINOTRANSFERASE_LINE = 3.0
BILIRUBIN_LINE = 2.0

WIDTH, HEIGHT = 360, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 52
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class PlotPoint:
    subject_id: str
    x: float
    y: float
    peak_aminotransferase_x_uln: float
    peak_bilirubin_x_uln: float
    quadrant: str | None
    quadrant_label: str | None
    clipped: bool

    @property
    def potential_hys_law(self) -> bool:
        return self.quadrant == "potential_hys_law"


@dataclass(frozen=True)
class Tick:
    value: float
    label: str
    position: float


@dataclass(frozen=True)
class EdishPlot:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    x_line: float
    y_line: float
    points: list[PlotPoint]
    not_plotted: list[Mapping[str, Any]]


def _fraction(value: float) -> tuple[float, bool]:
    clipped = not AXIS_MIN <= value <= AXIS_MAX
    value = min(max(value, AXIS_MIN), AXIS_MAX)
    span = math.log10(AXIS_MAX) - math.log10(AXIS_MIN)
    return (math.log10(value) - math.log10(AXIS_MIN)) / span, clipped


def x_of(value: float) -> tuple[float, bool]:
    fraction, clipped = _fraction(value)
    return round(LEFT + fraction * PLOT_W, 1), clipped


def y_of(value: float) -> tuple[float, bool]:
    fraction, clipped = _fraction(value)
    return round(TOP + (1 - fraction) * PLOT_H, 1), clipped


def _label(value: float) -> str:
    return f"{value:g}"


def edish_plot(points: Iterable[Mapping[str, Any]]) -> EdishPlot:
    """``points`` as ``GET /v1/reports/edish`` gives them."""
    plotted, missing = [], []
    for point in points:
        peaks = [
            p for p in (point.get("peak_alt_x_uln"), point.get("peak_ast_x_uln")) if p is not None
        ]
        bili = point.get("peak_bilirubin_x_uln")
        if not peaks or bili is None:
            missing.append(point)
            continue
        amino = max(peaks)
        x, x_clipped = x_of(amino)
        y, y_clipped = y_of(bili)
        plotted.append(
            PlotPoint(
                subject_id=point["subject_id"],
                x=x,
                y=y,
                peak_aminotransferase_x_uln=amino,
                peak_bilirubin_x_uln=bili,
                quadrant=point.get("quadrant"),
                quadrant_label=point.get("quadrant_label"),
                clipped=x_clipped or y_clipped,
            )
        )
    return EdishPlot(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        plot_width=PLOT_W,
        plot_height=PLOT_H,
        x_ticks=[Tick(v, _label(v), x_of(v)[0]) for v in TICKS],
        y_ticks=[Tick(v, _label(v), y_of(v)[0]) for v in Y_TICKS],
        x_line=x_of(AMINOTRANSFERASE_LINE)[0],
        y_line=y_of(BILIRUBIN_LINE)[0],
        points=plotted,
        not_plotted=missing,
    )
