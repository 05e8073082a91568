"""Overlay pictures: an image region with every nucleus outlined in its class colour, and a legend.

Drawn with Pillow (``ImageDraw`` polygons on a canvas read at a downsample), never by pixel loops. The
canvas is never larger than the picture: pixels are read block by block at the overlay's downsample
(each block a bounded level-0 read, from the best pyramid level where the file has one), so a whole slide's
overview costs the memory of the overview, not of the slide. A region too big to show at full resolution
gets a downsampled overview plus full-resolution crops of a few sampled tiles where nuclei are.

Coordinates: a level-0 point (x, y) lands on canvas pixel ((x - region.x) / d, (y - region.y) / d),
the same convention as the wire's tiles (``geometry.coords``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..classes import COLOUR_BY_NAME, UNCLASSIFIED, UNKNOWN_CLASS_COLOUR, rgb_triple
from ..files import atomic_write
from ..records import NucleusRecord, Rect
from .slide import PixelSource, best_level

MAX_OVERVIEW_EDGE = 2048  # longest edge of an automatic overview, in pixels
BLOCK_EDGE = 1024  # most canvas pixels per block edge
READ_EDGE = 2048  # most pixels per block edge in the pyramid level a block is read from (12 MB of RGB)
CROP_EDGE = 384  # level-0 edge of a full-resolution crop (one inner tile of PathoSAM at 0.25 um/px)
LEGEND_HEIGHT = 28


@dataclass(frozen=True)
class OverlayInfo:
    """What an overlay picture shows.

    Attributes:
        path: The PNG written.
        downsample: Level-0 pixels per overview pixel.
        size: (width, height) of the whole picture.
        crops: Level-0 rectangles of the full-resolution crops (empty when the overview is full resolution).
    """

    path: Path
    downsample: float
    size: tuple[int, int]
    crops: tuple[Rect, ...]


def auto_downsample(region: Rect, max_edge: int = MAX_OVERVIEW_EDGE) -> float:
    """The smallest power of two (>= 1) that fits the region's longer edge into ``max_edge`` pixels.

    Args:
        region: Level-0 region.
        max_edge: Longest edge of the picture.

    Returns:
        The downsample.
    """
    longest = max(region.width, region.height)
    return float(2 ** max(0, math.ceil(math.log2(longest / max_edge)))) if longest > max_edge else 1.0


def class_colour(name: str) -> tuple[int, int, int]:
    """The display colour of a class name (QuPath's PathClass colours for PanNuke's classes).

    Args:
        name: Class name ("" = unclassified).

    Returns:
        (r, g, b).
    """
    return rgb_triple(COLOUR_BY_NAME.get(name, UNKNOWN_CLASS_COLOUR))


def block_edge(pixels: PixelSource, downsample: float) -> int:
    """Canvas pixels per block edge, so that one block's read holds at most ``READ_EDGE`` squared pixels of
    the pyramid level it comes from (level 0 for a file without a pyramid: small blocks at big downsamples).

    Args:
        pixels: The image (its ``levels``, where it has a pyramid).
        downsample: Level-0 pixels per canvas pixel.

    Returns:
        The block edge.
    """
    levels = getattr(pixels, "levels", None)
    level_downsample = levels[best_level(levels, downsample)].downsample if levels else 1.0
    return max(16, min(BLOCK_EDGE, int(READ_EDGE * level_downsample / downsample)))


def canvas_size(region: Rect, downsample: float) -> tuple[int, int]:
    """(width, height) in pixels of a level-0 region drawn at a downsample (partial pixels included).

    Args:
        region: Level-0 region.
        downsample: Level-0 pixels per canvas pixel.

    Returns:
        The size.
    """
    return max(1, math.ceil(region.width / downsample)), max(1, math.ceil(region.height / downsample))


def read_canvas(pixels: PixelSource, region: Rect, downsample: float) -> Image.Image:
    """The region's pixels at a downsample, read block by block (memory: the canvas plus one block's read).

    Args:
        pixels: The image.
        region: Level-0 region inside the image.
        downsample: Level-0 pixels per canvas pixel.

    Returns:
        An RGB canvas of ``ceil(region / downsample)`` pixels.
    """
    block = block_edge(pixels, downsample)
    w, h = canvas_size(region, downsample)
    canvas = Image.new("RGB", (w, h), (255, 255, 255))
    for by in range(0, h, block):
        for bx in range(0, w, block):
            x0 = region.x + round(bx * downsample)
            y0 = region.y + round(by * downsample)
            x1 = min(region.x1, region.x + round(min(bx + block, w) * downsample))
            y1 = min(region.y1, region.y + round(min(by + block, h) * downsample))
            if x1 <= x0 or y1 <= y0:
                continue
            part = pixels.read(Rect(x0, y0, x1 - x0, y1 - y0), downsample)
            canvas.paste(Image.fromarray(np.ascontiguousarray(part[: h - by, : w - bx])), (bx, by))
    return canvas


def _rings(geometry: Any) -> list[Sequence[tuple[float, float]]]:
    """Every ring (exteriors and holes) of a Polygon / MultiPolygon."""
    out: list[Sequence[tuple[float, float]]] = []
    for poly in getattr(geometry, "geoms", [geometry]):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        out.append(list(poly.exterior.coords))
        out.extend(list(r.coords) for r in poly.interiors)
    return out


def draw_outlines(
    canvas: Image.Image, nuclei: Sequence[NucleusRecord], origin: tuple[float, float], downsample: float, width: int = 1
) -> None:
    """Outline nuclei on a canvas in their class colours (holes and parts included).

    Args:
        canvas: RGB picture whose pixel (0, 0) is level-0 ``origin``.
        nuclei: Nuclei in level-0 coordinates.
        origin: Level-0 (x, y) of the canvas's top-left corner.
        downsample: Level-0 pixels per canvas pixel.
        width: Line width in canvas pixels.
    """
    draw = ImageDraw.Draw(canvas)
    ox, oy = origin
    for n in nuclei:
        colour = class_colour(n.class_name)
        for ring in _rings(n.geometry):
            # A pixel's centre is at +0.5: the level-0 corner x maps to canvas coordinate (x - ox) / d.
            pts = [((x - ox) / downsample - 0.5, (y - oy) / downsample - 0.5) for x, y in ring]
            if len(pts) >= 2:
                draw.line(pts, fill=colour, width=width, joint="curve")


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def legend(nuclei: Sequence[NucleusRecord], width: int, note: str = "") -> Image.Image:
    """A strip with each class's colour, name and count (most common first), wrapped to the picture's width.

    Args:
        nuclei: The nuclei shown.
        width: Width of the strip (the picture's).
        note: Text after the classes (e.g. the downsample).

    Returns:
        The strip (``LEGEND_HEIGHT`` per line).
    """
    counts = Counter(n.class_name or UNCLASSIFIED for n in nuclei)
    font = _font(14)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    items = [(name, f"{name} {count}") for name, count in counts.most_common()]
    items.append(("", f"{len(nuclei)} nuclei{'; ' + note if note else ''}"))
    width = max(width, 1)
    placed, x, line = [], 6, 0
    for name, text in items:
        w = (19 if name else 0) + int(measure.textlength(text, font=font)) + 14
        if x > 6 and x + w > width:
            x, line = 6, line + 1
        placed.append((name, text, x, line))
        x += w
    strip = Image.new("RGB", (width, LEGEND_HEIGHT * (line + 1)), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    for name, text, x, line in placed:
        y = line * LEGEND_HEIGHT
        if name:
            fill = class_colour("" if name == UNCLASSIFIED else name)
            draw.rectangle([x, y + 7, x + 14, y + 21], outline=(0, 0, 0), fill=fill)
            draw.text((x + 19, y + 6), text, fill=(0, 0, 0), font=font)
        else:
            draw.text((x, y + 6), text, fill=(80, 80, 80), font=font)
    return strip


def sample_crops(nuclei: Sequence[NucleusRecord], region: Rect, count: int, edge: int = CROP_EDGE) -> list[Rect]:
    """Up to ``count`` level-0 crops where nuclei are: the crop grid's cells ranked by nuclei, then picked
    evenly along that ranking (the densest, typical and sparse tissue), deterministic.

    Args:
        nuclei: The nuclei of the region.
        region: The region.
        count: Crops wanted.
        edge: Level-0 crop edge.

    Returns:
        The crops, in reading order.
    """
    if count <= 0 or not nuclei:
        return []
    cells = Counter(
        (int((n.centroid_x - region.x) // edge), int((n.centroid_y - region.y) // edge))
        for n in nuclei
        if region.contains_point(n.centroid_x, n.centroid_y)
    )
    ranked = sorted(cells, key=lambda c: (-cells[c], c[1], c[0]))
    if len(ranked) > count:
        ranked = [ranked[round(i * (len(ranked) - 1) / max(1, count - 1))] for i in range(count)]
    out = []
    for cx, cy in sorted(set(ranked), key=lambda c: (c[1], c[0])):
        x, y = region.x + cx * edge, region.y + cy * edge
        out.append(Rect(x, y, min(edge, region.x1 - x), min(edge, region.y1 - y)))
    return out


def render_overlay(
    pixels: PixelSource,
    region: Rect,
    nuclei: Sequence[NucleusRecord],
    downsample: Optional[float] = None,
    crops: int = 4,
    line_width: int = 1,
) -> tuple[Image.Image, float, list[Rect]]:
    """The overlay picture: overview with outlines, full-resolution crops below when downsampled, legend.

    Args:
        pixels: The image.
        region: Level-0 region shown.
        nuclei: Its nuclei (level-0).
        downsample: Level-0 pixels per overview pixel (None: ``auto_downsample``).
        crops: Full-resolution crops to add when the overview is downsampled (0 = none).
        line_width: Outline width in pixels.

    Returns:
        (picture, downsample used, crop rectangles).
    """
    d = downsample if downsample is not None else auto_downsample(region)
    if not d > 0:
        raise ValueError(f"overlay downsample must be positive, got {d}")
    overview = read_canvas(pixels, region, d)
    draw_outlines(overview, nuclei, (region.x, region.y), d, line_width)
    rects = sample_crops(nuclei, region, crops) if d > 1 else []
    pictures = []
    for r in rects:
        crop = read_canvas(pixels, r, 1.0)
        inside = [n for n in nuclei if _bbox_meets(n, r)]
        draw_outlines(crop, inside, (r.x, r.y), 1.0, max(1, line_width))
        pictures.append(crop)
        # mark where the crop comes from on the overview
        ImageDraw.Draw(overview).rectangle(
            [(r.x - region.x) / d, (r.y - region.y) / d, (r.x1 - region.x) / d, (r.y1 - region.y) / d],
            outline=(0, 0, 0),
            width=2,
        )
    gap = 8
    row_w = sum(p.width for p in pictures) + gap * max(0, len(pictures) - 1)
    row_h = max((p.height for p in pictures), default=0)
    width = max(overview.width, row_w)
    note = (f"downsample {d:g}" if d != 1 else "") + (
        f"; {len(pictures)} crops at full resolution (boxes)" if pictures else ""
    )
    strip = legend(nuclei, width, note)
    height = overview.height + (row_h + gap if pictures else 0) + strip.height
    out = Image.new("RGB", (width, height), (255, 255, 255))
    out.paste(overview, (0, 0))
    x = 0
    for p in pictures:
        out.paste(p, (x, overview.height + gap))
        x += p.width + gap
    out.paste(strip, (0, height - strip.height))
    return out, d, rects


def _bbox_meets(n: NucleusRecord, r: Rect) -> bool:
    x0, y0, x1, y1 = n.geometry.bounds
    return x0 < r.x1 and r.x < x1 and y0 < r.y1 and r.y < y1


def write_overlay(
    path: Path,
    pixels: PixelSource,
    region: Rect,
    nuclei: Sequence[NucleusRecord],
    downsample: Optional[float] = None,
    crops: int = 4,
) -> OverlayInfo:
    """Render the overlay and write it as PNG, atomically.

    Args:
        path: Output .png.
        pixels: The image.
        region: Level-0 region shown.
        nuclei: Its nuclei.
        downsample: Overview downsample (None: automatic).
        crops: Full-resolution crops for downsampled overviews.

    Returns:
        What was written.
    """
    picture, d, rects = render_overlay(pixels, region, nuclei, downsample, crops)
    atomic_write(path, png_bytes(picture))
    return OverlayInfo(path, d, picture.size, tuple(rects))


def png_bytes(picture: Image.Image) -> bytes:
    """A picture as PNG bytes.

    Args:
        picture: The picture.

    Returns:
        The PNG file's bytes.
    """
    import io

    buf = io.BytesIO()
    picture.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
