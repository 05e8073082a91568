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
PANNUKE_CLASSES: tuple[str, ...] = tuple(CLASS_NAMES[c] for c in sorted(CLASS_NAMES))
# Colours for a fine-tuned model's own class names (``pathosam finetune --classes``), in list order.
_PALETTE = (0xE6194B, 0x3CB44B, 0x4363D8, 0xF58231, 0x911EB4, 0x46F0F0, 0xF032E6, 0xBCF60C, 0x008080, 0x9A6324)
UNCLASSIFIED = "Unclassified"  # report label for nuclei without a class (instances-only runs)

# Measurement names, as QuPath shows them. SCORE also marks a detection as ours (``--replace``).
SCORE_MEASUREMENT = "PathoSAM: score"
PROBABILITY_MEASUREMENT = "PathoSAM: class probability"


def class_colour(name: str, index: int) -> int:
    """Display colour of a class: PanNuke's colour for PanNuke's names, else a palette colour by position.

    Args:
        name: The class name.
        index: Its position in the model's class list (0-based).

    Returns:
        0xRRGGBB.
    """
    return COLOUR_BY_NAME.get(name, _PALETTE[index % len(_PALETTE)])


def class_table(names: tuple[str, ...]) -> dict[int, tuple[str, int]]:
    """Class id (1-based; 0 is background) -> (name, colour) for a model's class list."""
    return {i + 1: (n, class_colour(n, i)) for i, n in enumerate(names)}


def rgb_triple(rgb: int) -> tuple[int, int, int]:
    """Split 0xRRGGBB into (r, g, b).

    Args:
        rgb: The packed colour.

    Returns:
        Its three 0-255 components.
    """
    return rgb >> 16, (rgb >> 8) & 255, rgb & 255
