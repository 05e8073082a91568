"""Weights on disk: micro-sam's registry, checkpoint files, and the scale the known ones were trained at.

Checkpoints are read with ``torch.load(weights_only=True)``; pickled training checkpoints are only
unpickled for hash-checked registry files or when the operator allows it explicitly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional

import torch

from ..errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "vit_b_histopathology"
REGISTRY_MODELS = ("vit_b_histopathology", "vit_l_histopathology", "vit_h_histopathology")
# PanNuke (PathoSAM's training data) is scanned at 40x, about 0.25 um per pixel.
PATHOSAM_PIXEL_SIZE_UM = 0.25


def checkpoint_pixel_size(path: Path, name: str) -> float:
    """PathoSAM's working pixel size when a local checkpoint holds a PathoSAM registry model's weights.

    That is when it is served under a registry name (``--model vit_b_histopathology --model-path F``), named
    after one (micro-sam's cache keeps ``models/vit_b_histopathology``) or has micro-sam's registry digest of
    one (a renamed copy). Others (fine-tuned) may work at another scale: unknown unless the operator says.

    Args:
        path: The checkpoint file.
        name: The name it is served under.

    Returns:
        ``PATHOSAM_PIXEL_SIZE_UM``, or 0.0 (unknown).
    """
    if {name, path.stem, path.name} & set(REGISTRY_MODELS):
        return PATHOSAM_PIXEL_SIZE_UM
    try:
        import pooch

        digest = "xxh128:" + pooch.file_hash(str(path), alg="xxh128")
        known = registry_digests().get(digest)
    except (ImportError, OSError, ValueError) as err:  # no xxhash, unreadable file
        log.debug("cannot compare %s with micro-sam's registry: %s", path, err)
        return 0.0
    if known:
        log.info("'%s' holds micro-sam's %s weights: PathoSAM's %g um per pixel", path, known, PATHOSAM_PIXEL_SIZE_UM)
    return PATHOSAM_PIXEL_SIZE_UM if known else 0.0


_SHA256_CACHE: dict[tuple[str, int, int], str] = {}
_SHA256_LOCK = threading.Lock()


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 (hex) of a weights file, streamed in chunks and cached per path, mtime and size.

    Provenance stamps every run with the hashes of its weights; the cache keeps that from re-reading
    a multi-GB checkpoint per run, and a changed file (new mtime or size) is hashed again.

    Args:
        path: The file.
        chunk_bytes: Read size.

    Returns:
        The lowercase hex digest.
    """
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    with _SHA256_LOCK:
        cached = _SHA256_CACHE.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with open(resolved, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _SHA256_LOCK:
        _SHA256_CACHE[key] = value
    return value


def registry_digests() -> dict[str, str]:
    """micro-sam's registry digests (``xxh128:...``) of the PathoSAM models -> model name."""
    from micro_sam import util

    registry = util.models().registry
    return {registry[n]: n for n in REGISTRY_MODELS if n in registry}


def torch_load(path: Path, allow_pickle: bool) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not allow_pickle:
            raise ModelError(
                f"'{path}' is not a plain weights file (it needs full unpickling, which can run code). "
                "Export it with micro-sam's export functions, or pass --allow-pickle if you trust it."
            ) from err
        log.warning("unpickling %s with weights_only=False (allowed explicitly)", path)
        return torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError) as err:
        raise ModelError(f"cannot read weights file '{path}': {err}") from err


def split_state(state: Any) -> tuple[OrderedDict, Optional[dict]]:
    """(SAM state dict, AIS decoder state) from a micro-sam / torch-em checkpoint."""
    if not isinstance(state, dict):
        raise ModelError("checkpoint does not hold a state dict")
    decoder_state = state.get("decoder_state")
    model_state = state.get("model_state", state)
    sam_state = OrderedDict(
        (k[4:] if k.startswith("sam.") else k, v)
        for k, v in model_state.items()
        if k != "decoder_state" and isinstance(v, torch.Tensor)
    )
    return sam_state, decoder_state


def architecture_of(sam_state: dict) -> str:
    from micro_sam.models.build_sam import _validate_model_type

    try:
        return _validate_model_type(sam_state)
    except KeyError as err:
        raise ModelError(f"checkpoint is not a SAM model (unknown embedding size {err})") from err


def fetch_registry(name: str) -> tuple[Path, Optional[Path]]:
    """Download (or find cached) registry weights through micro-sam's pooch registry."""
    from micro_sam import util

    registry = util.models()
    try:
        checkpoint = Path(registry.fetch(name, progressbar=True))
        decoder_name = f"{name}_decoder"
        decoder = Path(registry.fetch(decoder_name, progressbar=True)) if decoder_name in registry.registry else None
    except Exception as err:  # pooch raises requests / OSError / ValueError (hash mismatch)
        raise ModelError(
            f"could not download '{name}' from micro-sam's model registry ({type(err).__name__}: {err}). "
            "Offline, pass local weights instead: --model-path CHECKPOINT.pt [--decoder-path DECODER.pt] "
            "[--semantic-decoder-path SEMANTIC.pt], or set MICROSAM_CACHEDIR to a folder that already holds them."
        ) from err
    return checkpoint, decoder


MODEL_MANIFEST = "pathosam_model.json"
MODEL_FORMAT = "pathosam-model/1"


def read_model_folder(folder: Path) -> dict[str, Any]:
    """What a model folder (``pathosam finetune``'s output) says about its model.

    Args:
        folder: The folder with ``pathosam_model.json``.

    Returns:
        ModelSpec fields: checkpoint, name, pixel_size_um, semantic_decoder, class_names, tile_size, halo.
    """
    manifest = folder / MODEL_MANIFEST
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ModelError(
            f"'{folder}' is a folder without {MODEL_MANIFEST}: pass a checkpoint file, or a folder written by "
            "`pathosam finetune`"
        ) from err
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot read '{manifest}': {err}") from err
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ModelError(f"'{manifest}' is not a PathoSAM model manifest (expected format {MODEL_FORMAT})")
    try:
        names = tuple(str(n) for n in data["class_names"])
        out: dict[str, Any] = {
            "checkpoint": folder / str(data["checkpoint"]),
            "name": str(data["name"]),
            "pixel_size_um": float(data.get("pixel_size_um") or 0.0),
            "semantic_decoder": folder / str(data["semantic_decoder"]) if data.get("semantic_decoder") else None,
            "class_names": names,
            "tile_size": int(data["tile_size"]),
            "halo": int(data["halo"]),
        }
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"'{manifest}' lacks or mistypes a field: {err}") from err
    if not names or len(set(names)) != len(names) or any(not n.strip() for n in names):
        raise ModelError(f"'{manifest}' needs a non-empty list of distinct class names, got {list(names)}")
    return out


def is_cached(name: str) -> bool:
    """Whether a registry model's weights are already in micro-sam's cache."""
    from micro_sam import util

    return (Path(util.microsam_cachedir()) / "models" / name).is_file()
