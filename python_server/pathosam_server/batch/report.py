"""The batch's QC report: one self-contained HTML page (pictures embedded, no external references).

The batch rewrites it (atomically) after every image, so it is worth opening while a long batch runs;
``pathosam report`` rebuilds it from a finished batch's ledger and GeoJSON files. Both go through
``collect_image`` and ``ReportBuilder``, so they give the same figures. Plots are drawn with matplotlib
(the Agg canvas, no pyplot state, so a report can be drawn from any thread).
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..classes import UNCLASSIFIED
from ..files import atomic_write
from ..formats.geojson import read_detection_geojson
from ..formats.overlay import auto_downsample, canvas_size, class_colour, draw_outlines, read_canvas
from ..formats.slide import PixelSource
from ..geometry.polygons import rasterize
from ..records import NucleusRecord, Rect
from .qc import SCORE_BINS, ImageQc, QcThresholds, apply_flags, image_qc, region_box

THUMBNAIL_EDGE = 320  # longest edge of a report thumbnail, pixels


def thumbnail(pixels: Optional[PixelSource], box: Rect, nuclei: Sequence[NucleusRecord]) -> bytes:
    """A small JPEG of a box with the nuclei outlined (on white when there are no pixels).

    Args:
        pixels: The image, or None.
        box: Level-0 box shown.
        nuclei: Nuclei in it.

    Returns:
        JPEG bytes.
    """
    from PIL import Image

    d = auto_downsample(box, THUMBNAIL_EDGE)
    if pixels is not None:
        canvas = read_canvas(pixels, box, d)
    else:
        canvas = Image.new("RGB", canvas_size(box, d), "white")
    draw_outlines(canvas, nuclei, (box.x, box.y), d)
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=85)  # a tenth of a PNG of tissue: a cohort's page stays light
    return buf.getvalue()


def tissue_area(pixels: PixelSource, regions: Sequence[Any]) -> float:
    """Tissue inside the regions, level-0 px2, from a thumbnail-resolution view (``inference.tissue``'s rule).

    Args:
        pixels: The image.
        regions: ``batch.sources.Region`` objects (``rect``, ``roi``).

    Returns:
        The area.
    """
    import shapely.affinity

    from ..inference.tissue import tissue_mask  # numpy only

    box = region_box([r.rect for r in regions])
    d = auto_downsample(box, THUMBNAIL_EDGE * 2)
    view = np.asarray(read_canvas(pixels, box, d))
    tissue = tissue_mask(view, block=1, dilation=0)
    rois = [
        (1, shapely.affinity.affine_transform(r.roi, [1 / d, 0, 0, 1 / d, -box.x / d, -box.y / d])) for r in regions
    ]
    inside = rasterize(rois, tissue.shape) > 0
    return float(np.count_nonzero(tissue & inside)) * d * d


def collect_image(
    name: str, status: str, record: dict, geojson: Optional[Path], pixels: Optional[PixelSource]
) -> ImageQc:
    """One image's figures and thumbnail from its outputs.

    Args:
        name: Image name.
        status: Its status in the batch.
        record: Its ledger record ({} for images that failed or did not run).
        geojson: Its GeoJSON file (None or missing: no nuclei known).
        pixels: Its pixels for the thumbnail (None: outlines on white).

    Returns:
        The figures.
    """
    nuclei = read_detection_geojson(geojson) if geojson is not None and geojson.is_file() else []
    qc = image_qc(name, status, record, nuclei)
    box = (record.get("qc") or {}).get("box")
    if box:
        qc.thumbnail = thumbnail(pixels, Rect(*box), nuclei)
    elif pixels is not None and record:
        qc.thumbnail = thumbnail(pixels, Rect(0, 0, pixels.width, pixels.height), nuclei)
    return qc


class ReportBuilder:
    """The images of one report, in batch order; ``write`` renders the page.

    Args:
        path: The .html file.
        title: Page heading.
        settings: Run settings shown on the page (name -> value).
        thresholds: QC flag thresholds.
    """

    def __init__(
        self,
        path: Path,
        title: str,
        settings: Optional[dict] = None,
        thresholds: QcThresholds = QcThresholds(),
        interval: float = 0.0,
    ) -> None:
        self.path, self.title, self.settings, self.thresholds = path, title, settings or {}, thresholds
        self.interval = interval
        self.images: dict[str, ImageQc] = {}
        self._written = -float("inf")
        self._pending = False

    def add(self, image: ImageQc) -> None:
        """Add or replace an image."""
        self.images[image.name] = image
        self._pending = True

    def write(self, force: bool = True) -> None:
        """Flag the images and write the page atomically.

        Args:
            force: Write now; otherwise only when ``interval`` seconds passed since the last write (a cohort's
                page holds every thumbnail: rewriting it after each of a thousand images would be quadratic).
        """
        if not force and time.monotonic() - self._written < self.interval:
            return
        images = list(self.images.values())
        apply_flags(images, self.thresholds)
        atomic_write(self.path, render_html(self.title, images, self.settings, self.thresholds))
        self._written, self._pending = time.monotonic(), False

    def close(self) -> None:
        """Write what the last throttled ``write`` left out."""
        if self._pending:
            self.write()


# --- the page ------------------------------------------------------------------------------------------


def _png_img(data: bytes, alt: str, cls: str = "") -> str:
    b64 = base64.b64encode(data).decode("ascii")
    kind = "jpeg" if data[:2] == b"\xff\xd8" else "png"
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="data:image/{kind};base64,{b64}">'


def _figure(draw: Callable[[Any], None], width: float = 5.0, height: float = 3.0) -> bytes:
    """A matplotlib figure drawn by ``draw(axes)``, as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="tight")
    FigureCanvasAgg(fig)
    draw(fig.add_subplot())
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _hex(name: str) -> str:
    r, g, b = class_colour("" if name == UNCLASSIFIED else name)
    return f"#{r:02x}{g:02x}{b:02x}"


def _classes(images: Sequence[ImageQc]) -> list[str]:
    return sorted({c for im in images for c in im.per_class}, key=lambda c: (c == UNCLASSIFIED, c))


def cohort_plots(images: Sequence[ImageQc]) -> list[tuple[str, bytes]]:
    """Class composition per image, count vs tissue area, score distribution.

    Args:
        images: The images.

    Returns:
        (caption, PNG) per plot.
    """
    done = [im for im in images if im.nuclei]
    if not done:
        return []
    classes = _classes(done)
    names = [im.name[:18] for im in done]

    def composition(ax: Any) -> None:
        left = np.zeros(len(done))
        for c in classes:
            frac = np.array([im.per_class.get(c, 0) / im.nuclei for im in done])
            ax.barh(names, frac, left=left, color=_hex(c), label=c)
            left += frac
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.set_xlabel("fraction of nuclei")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)

    def count_vs_tissue(ax: Any) -> None:
        calibrated = all(im.tissue_mm2 is not None for im in done)
        xs = [(im.tissue_mm2 if calibrated else im.tissue_area_px) or 0.0 for im in done]
        ax.scatter(xs, [im.nuclei for im in done], color=["#c00" if im.flags else "#246" for im in done])
        for x, im in zip(xs, done):
            ax.annotate(im.name[:14], (x, im.nuclei), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("tissue area (mm\u00b2)" if calibrated else "tissue area (px\u00b2)")
        ax.set_ylabel("nuclei")

    def scores(ax: Any) -> None:
        total = np.sum([im.score_histogram() for im in done], axis=0)
        edges = np.linspace(0, 1, SCORE_BINS + 1)
        ax.bar(edges[:-1], total, width=1 / SCORE_BINS, align="edge", color="#468")
        ax.set_xlabel("nucleus score")
        ax.set_ylabel("nuclei")

    height = max(2.6, 0.25 * len(done) + 1)
    return [
        ("Class composition per image", _figure(composition, 4.6, height)),
        ("Nuclei vs tissue area (red: flagged)", _figure(count_vs_tissue, 3.8, 2.6)),
        ("Score distribution, all images", _figure(scores, 3.8, 2.6)),
    ]


def _bar(im: ImageQc, classes: Sequence[str]) -> str:
    if not im.nuclei:
        return ""
    parts = "".join(
        f'<span style="width:{100 * im.per_class[c] / im.nuclei:.2f}%;background:{_hex(c)}" '
        f'title="{html.escape(c)} {im.per_class[c]}"></span>'
        for c in classes
        if im.per_class.get(c)
    )
    return f'<div class="bar">{parts}</div>'


def _fmt(value: Optional[float], spec: str, dash: str = "\u2014") -> str:
    return dash if value is None else format(value, spec)


STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 8px;vertical-align:top}
th{text-align:left;background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:flex;width:160px;height:14px;border:1px solid #999}.bar span{display:block;height:100%}
.flag{color:#b00;font-weight:bold}.thumb{max-width:320px;max-height:320px}
.plots{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-end}.plots figure{margin:0}
figcaption{font-size:90%;color:#555}
tr.flagged{background:#fff4f4}
"""


def render_html(title: str, images: Sequence[ImageQc], settings: dict, t: QcThresholds) -> str:
    """The whole page.

    Args:
        title: Heading.
        images: Flagged images, batch order.
        settings: Run settings to show.
        t: The thresholds the flags used.

    Returns:
        HTML text (no external references: every picture is a data URI).
    """
    classes = _classes(images)
    flagged = [im for im in images if im.flags]
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{len(images)} images, {sum(im.nuclei for im in images):,} nuclei, {len(flagged)} flagged. "
        f"Written {e(time.strftime('%Y-%m-%d %H:%M:%S'))}.</p>",
    ]
    if settings:
        out.append("<p>" + "; ".join(f"{e(str(k))}: {e(str(v))}" for k, v in settings.items()) + "</p>")
    out.append('<h2>Cohort</h2><div class="plots">')
    out.extend(f"<figure>{_png_img(p, c)}<figcaption>{e(c)}</figcaption></figure>" for c, p in cohort_plots(images))
    out.append("</div><h2>Flags</h2><p>An image is flagged for a look when:</p><ul>")
    out.extend(f"<li>{e(rule)}</li>" for rule in t.describe())
    out.append("</ul>")
    if flagged:
        out.append("<ul>" + "".join(f"<li><a href='#{_anchor(im.name)}'>{e(im.name)}</a>: "
                   f"{e('; '.join(im.flags))}</li>" for im in flagged) + "</ul>")  # fmt: skip
    else:
        out.append("<p>No image is flagged.</p>")
    out.append(
        "<h2>Images</h2><table><tr><th>image</th><th>outlines</th><th>nuclei</th><th>per mm\u00b2</th>"
        "<th>classes</th><th>mean score</th><th>median area</th><th>tiles (glass skipped)</th><th>seconds</th>"
        "<th>status / flags</th></tr>"
    )
    for im in images:
        counts = ", ".join(f"{c} {im.per_class[c]}" for c in classes if im.per_class.get(c))
        flags = "".join(f'<div class="flag">{e(f)}</div>' for f in im.flags)
        out.append(
            f'<tr id="{_anchor(im.name)}" class="{"flagged" if im.flags else ""}"><td>{e(im.name)}</td>'
            f"<td>{_png_img(im.thumbnail, im.name, 'thumb') if im.thumbnail else ''}</td>"
            f'<td class="n" data-nuclei="{im.nuclei}">{im.nuclei:,}</td>'
            f'<td class="n">{_fmt(im.density_per_mm2, ",.0f")}</td>'
            f"<td>{_bar(im, classes)}<small>{e(counts)}</small></td>"
            f'<td class="n">{_fmt(im.mean_score, ".3f")}</td>'
            f'<td class="n">{_fmt(im.median_area, ".1f")} {im.area_unit if im.median_area is not None else ""}</td>'
            f'<td class="n">{im.tiles} ({im.tiles_skipped})</td><td class="n">{im.seconds:.1f}</td>'
            f"<td>{e(im.status)}{flags}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out)


def _anchor(name: str) -> str:
    return "img-" + "".join(ch if ch.isalnum() else "-" for ch in name)


class BatchReportHook:
    """``run_batch``'s ``on_image`` hook that keeps the report up to date while the batch runs.

    Each image's figures come from its outputs, as ``pathosam report`` reads them: the ledger record and
    the GeoJSON file just written, with the image's pixels for the thumbnail.

    Args:
        builder: The report.
        geojson_dir: Where the batch writes its GeoJSON files.
    """

    def __init__(self, builder: ReportBuilder, geojson_dir: Path) -> None:
        self.builder, self.geojson_dir = builder, geojson_dir

    def __call__(self, image: Any, report: Any, record: Optional[dict], geojson_name: str) -> None:
        """Add one image and rewrite the page.

        Args:
            image: The ``BatchImage``.
            report: Its ``ImageReport``.
            record: Its ledger record (None: it failed or did not run).
            geojson_name: Its GeoJSON file name in ``geojson_dir``.
        """
        from ..errors import ImageReadError

        pixels = None
        if record:
            try:
                pixels = image.open_pixels()
            except ImageReadError:  # the thumbnail is drawn on white; the figures do not need pixels
                pixels = None
        try:
            qc = collect_image(report.name, report.status, record or {}, self.geojson_dir / geojson_name, pixels)
        finally:
            getattr(pixels, "close", lambda: None)()
        if not record:  # failed or not run: what the batch knows of it
            qc.tiles, qc.seconds = report.tiles, round(report.seconds, 1)
        self.builder.add(qc)
        self.builder.write(force=False)
