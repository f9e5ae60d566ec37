"""Small SVG charts drawn on the server: no script, no library, nothing fetched from outside."""
from __future__ import annotations

from markupsafe import Markup, escape

BAR_COLOR = "#b3261e"
GRID_COLOR = "#ddd6d2"
TEXT_COLOR = "#1d1b1a"


def bar_chart(items: list[tuple[str, float]], title: str, unit: str = "%", maximum: float = 100.0) -> Markup:
    """Horizontal bars, one per (label, value); values printed at the bar ends so colour is not needed."""
    label_width, bar_width, row_height = 150, 360, 24
    height = row_height * len(items) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {label_width + bar_width + 70} {height}" '
             f'role="img" aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>']
    for tick in (0, 25, 50, 75, 100):
        x = label_width + bar_width * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 20}" stroke="{GRID_COLOR}"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 5}" font-size="11" text-anchor="middle" '
                     f'fill="{TEXT_COLOR}">{int(maximum * tick / 100)}{escape(unit)}</text>')
    for index, (label, value) in enumerate(items):
        y = index * row_height + 4
        width = bar_width * max(0.0, min(value, maximum)) / maximum if maximum else 0
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" font-size="13" text-anchor="end" '
                     f'fill="{TEXT_COLOR}">{escape(label)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 2}" width="{width:.1f}" height="{row_height - 8}" '
                     f'fill="{BAR_COLOR}"/>')
        parts.append(f'<text x="{label_width + width + 4:.1f}" y="{y + 15}" font-size="12" '
                     f'fill="{TEXT_COLOR}">{value:.1f}{escape(unit)}</text>')
    parts.append("</svg>")
    # Safe to mark: every text (title, labels, unit) went through escape(); the rest are formatted numbers.
    return Markup("".join(parts))  # nosec B704


def line_chart(points: list[tuple[str, float]], title: str, unit: str = "%", maximum: float = 100.0) -> Markup:
    """A line over the lectures of a course, each point labelled with its value."""
    width, height, left, bottom, top = 640, 260, 40, 60, 20
    plot_w, plot_h = width - left - 20, height - bottom - top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>']
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 20}" y2="{y:.1f}" stroke="{GRID_COLOR}"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="{TEXT_COLOR}">{int(maximum * tick / 100)}</text>')
    step = plot_w / max(len(points) - 1, 1)
    coords = []
    for index, (label, value) in enumerate(points):
        x = left + (step * index if len(points) > 1 else plot_w / 2)
        y = top + plot_h * (1 - max(0.0, min(value, maximum)) / maximum)
        coords.append((x, y))
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{BAR_COLOR}"/>')
        parts.append(f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="12" text-anchor="middle" '
                     f'fill="{TEXT_COLOR}">{value:.1f}{escape(unit)}</text>')
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 18}" font-size="11" text-anchor="middle" '
                     f'fill="{TEXT_COLOR}">{escape(label)}</text>')
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{BAR_COLOR}" stroke-width="2"/>')
    parts.append("</svg>")
    # Safe to mark: every text (title, labels, unit) went through escape(); the rest are formatted numbers.
    return Markup("".join(parts))  # nosec B704
