"""Class ids, names and colours (PanNuke's, as PathoSAM's semantic decoder predicts them) and the names
of the measurements this project writes. Clients read class names and colours from GetInfo; this is
their one home on the server side.
"""

from __future__ import annotations

NUM_CLASSES = 6  # PanNuke: background + 5 nucleus classes
CLASS_NAMES: dict[int, str] = {1: "Neoplastic", 2: "Inflammatory", 3: "Connective", 4: "Dead", 5: "Epithelial"}
# Suggested display colours (0xRRGGBB), close to the colours PanNuke figures use.
CLASS_COLOURS: dict[int, int] = {1: 0xFF0000, 2: 0x00FF00, 3: 0x0000FF, 4: 0xFFFF00, 5: 0xFF8000}
COLOUR_BY_NAME: dict[str, int] = {name: CLASS_COLOURS[cid] for cid, name in CLASS_NAMES.items()}
UNKNOWN_CLASS_COLOUR = 0x808080
UNCLASSIFIED = "Unclassified"  # report label for nuclei without a class (instances-only runs)

# Measurement names, as QuPath shows them. SCORE also marks a detection as ours (``--replace``).
SCORE_MEASUREMENT = "PathoSAM: score"
PROBABILITY_MEASUREMENT = "PathoSAM: class probability"


def rgb_triple(rgb: int) -> tuple[int, int, int]:
    """Split 0xRRGGBB into (r, g, b).

    Args:
        rgb: The packed colour.

    Returns:
        Its three 0-255 components.
    """
    return rgb >> 16, (rgb >> 8) & 255, rgb & 255
