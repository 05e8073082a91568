"""Every proto <-> Python conversion (server and client side) and validation of every incoming field.

Validation raises `RequestError` carrying the gRPC status code the service should answer with.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Any, Optional

import grpc
import numpy as np
import shapely
from PIL import Image as PILImage
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from ..geometry import coords, polygons
from ..geometry.tiling import tile_pixel_size
from ..grpc_api import pathosam_pb2 as pb
from ..records import NucleusRecord, Rect

# Trailing metadata of SegmentTile: the answering server as HOST:PORT, so that a client of a
# load-balanced pool (one channel over many servers) can count tiles per server.
SERVER_ID_KEY = "pathosam-server"


class RequestError(Exception):
    """A request the server refuses; ``code`` is the gRPC status to answer with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> RequestError:
    """An INVALID_ARGUMENT error."""
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, message)


def rect_from_proto(r: pb.Rect, what: str, max_edge: int = 1 << 31) -> Rect:
    """Validate and convert a level-0 rectangle."""
    if r.width <= 0 or r.height <= 0:
        raise invalid(f"{what} has zero or negative size ({r.width} x {r.height})")
    if r.x < 0 or r.y < 0:
        raise invalid(f"{what} starts at negative coordinates ({r.x}, {r.y})")
    if r.width > max_edge or r.height > max_edge:
        raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{what} is too large ({r.width} x {r.height})")
    return Rect(int(r.x), int(r.y), int(r.width), int(r.height))


def rect_to_proto(r: Rect) -> pb.Rect:
    """Convert a Rect to its message."""
    return pb.Rect(x=r.x, y=r.y, width=r.width, height=r.height)


def downsample_from_proto(value: float) -> float:
    """Validate a downsample (0 means 1)."""
    if math.isnan(value) or math.isinf(value):
        raise invalid(f"downsample must be a finite number, got {value}")
    if value == 0:
        return 1.0
    if value < 0 or value > 1024:
        raise invalid(f"downsample must be in (0, 1024], got {value}")
    return float(value)


def decode_image(img: pb.Image, max_edge: int) -> np.ndarray:
    """Decode tile pixels to an (H, W, 3) uint8 array, checking every size.

    Args:
        img: The message.
        max_edge: Largest accepted width or height.

    Returns:
        The pixels.
    """
    w, h = img.width, img.height
    if w <= 0 or h <= 0:
        raise invalid(f"image has zero or negative size ({w} x {h})")
    if w > max_edge or h > max_edge:
        raise RequestError(
            grpc.StatusCode.RESOURCE_EXHAUSTED, f"image {w} x {h} exceeds the server's max tile size {max_edge}"
        )
    enc = img.encoding
    if enc in (pb.PIXEL_ENCODING_UNSPECIFIED, pb.RAW_RGB8):
        expected = w * h * 3
        if len(img.data) != expected:
            raise invalid(f"RAW_RGB8 image {w} x {h} needs {expected} bytes (w*h*3), got {len(img.data)}")
        return np.frombuffer(img.data, dtype=np.uint8).reshape(h, w, 3)
    if enc in (pb.PNG, pb.JPEG):
        name = pb.PixelEncoding.Name(enc)
        try:
            with PILImage.open(io.BytesIO(img.data)) as pil:
                if pil.format != name:
                    raise invalid(f"image data is {pil.format or 'not an image'}, but encoding says {name}")
                if pil.size != (w, h):
                    raise invalid(f"{name} image is {pil.size[0]} x {pil.size[1]}, but the message says {w} x {h}")
                return np.asarray(pil.convert("RGB"))
        except RequestError:
            raise
        except Exception as err:  # PIL raises many types for corrupt data
            # PIL's messages name Python objects by address ("<_io.BytesIO object at 0x...>"): keep the words
            reason = re.sub(r"\s*<[^>]* at 0x[0-9a-fA-F]+>", "", str(err)).strip() or type(err).__name__
            raise invalid(f"cannot decode {name} image: {reason}") from err
    raise invalid(f"unknown pixel encoding {enc}")


def check_tile_size(rect: Rect, width: int, height: int, downsample: float) -> None:
    """The image must cover its level-0 rectangle at the downsample (to within a pixel)."""
    for axis, extent, pixels in (("width", rect.width, width), ("height", rect.height, height)):
        expected = extent / downsample
        if abs(pixels - expected) > 1.0:
            raise invalid(
                f"tile image {axis} {pixels} px does not match its level-0 {axis} {extent} at downsample "
                f"{downsample:g} (expected about {expected:.1f} px)"
            )


def geometry_to_proto(geom: object) -> pb.Geometry:
    """Shapely (multi)polygon -> packed-ring message."""
    out = pb.Geometry()
    for poly in polygons.polygons_of(geom):
        p = out.polygons.add()
        p.exterior.xy.extend(np.asarray(poly.exterior.coords)[:-1].ravel().tolist())
        for ring in poly.interiors:
            p.holes.add().xy.extend(np.asarray(ring.coords)[:-1].ravel().tolist())
    return out


def nucleus_to_proto(n: NucleusRecord, nucleus_id: int) -> pb.Nucleus:
    """Pipeline record -> message."""
    msg = pb.Nucleus(
        id=nucleus_id,
        geometry=geometry_to_proto(n.geometry),
        score=n.score,
        class_id=n.class_id,
        class_name=n.class_name,
        class_probability=n.class_probability,
        area=n.area,
        centroid_x=n.centroid_x,
        centroid_y=n.centroid_y,
        touches_tile_edge=n.touches_tile_edge,
    )
    if n.class_probabilities is not None:
        msg.class_probabilities.extend(n.class_probabilities.tolist())
    if n.measurements:
        msg.measurements.update(n.measurements)
    if n.cell_geometry is not None:
        msg.cell_geometry.CopyFrom(geometry_to_proto(n.cell_geometry))
    return msg


def image_size(width: int, height: int) -> Optional[tuple[int, int]]:
    """(w, h) of the whole image, or None when the client did not say."""
    if width < 0 or height < 0:
        raise invalid(f"image size must not be negative ({width} x {height})")
    return (int(width), int(height)) if width > 0 and height > 0 else None


def window_pixels(window: Rect, downsample: float, max_edge: int) -> tuple[int, int]:
    """The pixel size of a prompt window at its downsample, refused before anything that size is made.

    Args:
        window: Level-0 window.
        downsample: Level-0 pixels per window pixel.
        max_edge: Largest accepted edge in pixels.

    Returns:
        (width, height) in window pixels.
    """
    w, h = window.width / downsample, window.height / downsample
    if w > max_edge or h > max_edge:
        raise RequestError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"window {window.width} x {window.height} at downsample {downsample:g} would be {w:.0f} x {h:.0f} px; "
            f"the server accepts windows up to {max_edge} px (PathoSAM's own is 512)",
        )
    return tile_pixel_size(window, downsample)


def prompt_objects(
    msg_objects: Any,
    window: Rect,
    shape: tuple[int, int],
    downsample: float,
    max_objects: int,
    max_points: int,
    max_mask_pixels: int = 1 << 62,
) -> list:
    """Validate prompt objects and convert them to window tile pixels.

    Args:
        msg_objects: The request's PromptObject messages.
        window: The level-0 window.
        shape: (H, W) of the window's pixels.
        downsample: Level-0 pixels per window pixel.
        max_objects: Largest number of objects accepted.
        max_points: Largest number of points per object.
        max_mask_pixels: Largest total of pixels rasterised for previous outlines (checked before any is).

    Returns:
        prompts.PromptObject list.
    """
    from ..inference.prompts import PromptObject

    if not msg_objects:
        raise invalid("no prompt objects: send at least one object with points or a box")
    if len(msg_objects) > max_objects:
        raise invalid(f"{len(msg_objects)} objects in one request; the limit is {max_objects}")
    with_previous = sum(1 for obj in msg_objects if obj.HasField("previous") and obj.previous.polygons)
    if with_previous * shape[0] * shape[1] > max_mask_pixels:
        raise RequestError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"{with_previous} previous outlines of {shape[1]} x {shape[0]} px each exceed the server's limit of "
            f"{max_mask_pixels} mask pixels per request; send fewer objects or a smaller window",
        )
    frame = coords.TileFrame(window.x, window.y, downsample)
    out = []
    for k, obj in enumerate(msg_objects):
        if not obj.points and not obj.HasField("box"):
            raise invalid(f"object {k} has neither points nor a box")
        if len(obj.points) > max_points:
            raise invalid(f"object {k} has {len(obj.points)} points; the limit is {max_points}")
        pts = np.array([[p.x, p.y] for p in obj.points], dtype=np.float64).reshape(-1, 2)
        if not np.isfinite(pts).all():
            raise invalid(f"object {k} has a point with a non-finite coordinate")
        for px, py in pts:
            if not window.contains_point(px, py):
                raise invalid(f"object {k}: point ({px:g}, {py:g}) lies outside the window {window}")
        labels = np.array([1 if p.positive else 0 for p in obj.points], dtype=np.int32)
        box = None
        if obj.HasField("box"):
            b = obj.box
            if b.width <= 0 or b.height <= 0:
                raise invalid(f"object {k}: box has zero area ({b.width} x {b.height})")
            if not window.contains_rect(Rect(int(b.x), int(b.y), int(b.width), int(b.height))):
                raise invalid(f"object {k}: box {b.x},{b.y} {b.width}x{b.height} is not inside the window {window}")
            corners = coords.level0_to_tile(np.array([[b.x, b.y], [b.x + b.width, b.y + b.height]]), frame)
            x0, y0, x1, y1 = (float(v) for v in corners.ravel())
            box = (x0, y0, x1, y1)
        previous = None
        if obj.HasField("previous") and obj.previous.polygons:
            try:
                shp = geometry_from_proto(obj.previous)
            except ValueError as err:
                raise invalid(f"object {k}: previous outline: {err}") from err
            local = shapely.transform(shp, lambda c: coords.level0_to_tile(c, frame))
            previous = polygons.rasterize([(1, local)], shape) > 0
        out.append(PromptObject(coords.level0_to_tile(pts, frame), labels, box, previous))
    return out


def _ring(xy: Sequence[float], what: str) -> np.ndarray:
    if len(xy) % 2:
        raise ValueError(f"{what} has an odd number of coordinates ({len(xy)}); rings are packed x, y pairs")
    ring = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(ring) < 3:
        raise ValueError(f"{what} has {len(ring)} vertices; a ring needs at least 3")
    if not np.isfinite(ring).all():
        raise ValueError(f"{what} has a non-finite coordinate")
    return ring


def geometry_from_proto(g: pb.Geometry) -> BaseGeometry:
    """Packed-ring message -> shapely Polygon / MultiPolygon (level-0), checking every ring.

    Args:
        g: The message.

    Returns:
        The geometry (an empty Polygon for a message without polygons).

    Raises:
        ValueError: A ring with an odd coordinate count, fewer than 3 vertices or a non-finite value.
    """
    polys = []
    for i, p in enumerate(g.polygons):
        holes = [_ring(h.xy, f"polygon {i} hole {j}") for j, h in enumerate(p.holes)]
        polys.append(Polygon(_ring(p.exterior.xy, f"polygon {i} exterior"), holes))
    if not polys:
        return Polygon()
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def nucleus_from_proto(m: pb.Nucleus) -> NucleusRecord:
    """A wire nucleus back as a record (level-0 geometry, class, scores), for Python clients.

    Args:
        m: The message.

    Returns:
        The record.
    """
    return NucleusRecord(
        geometry=geometry_from_proto(m.geometry),
        score=m.score,
        area=m.area,
        centroid_x=m.centroid_x,
        centroid_y=m.centroid_y,
        touches_tile_edge=m.touches_tile_edge,
        class_id=m.class_id,
        class_name=m.class_name,
        class_probability=m.class_probability,
        class_probabilities=np.asarray(m.class_probabilities, dtype=np.float32) if m.class_probabilities else None,
        measurements=dict(m.measurements),
        cell_geometry=geometry_from_proto(m.cell_geometry) if m.HasField("cell_geometry") else None,
    )


def encode_raw(pixels: np.ndarray) -> pb.Image:
    """(H, W, 3) uint8 pixels as a RAW_RGB8 image message.

    Args:
        pixels: The tile.

    Returns:
        The message.
    """
    return pb.Image(
        width=pixels.shape[1],
        height=pixels.shape[0],
        encoding=pb.RAW_RGB8,
        data=np.ascontiguousarray(pixels, dtype=np.uint8).tobytes(),
    )
