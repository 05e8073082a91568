"""The decoders' time per tile in NCHW and channels-last layout, float32 and bfloat16, in one run.

    python benchmarks/decoder_layout.py [--checkpoint CKPT] [--arch vit_b] [--repeat 2]

One encoder pass gives a 512 px tile's embedding (the pipeline's 384 + 2 x 64); then the instance (AIS)
decoder runs on it, alternating layouts and precisions ``--repeat`` times, as the scheduler runs it
(``TileScheduler._decode``). Prints the best time of each and the largest difference of each output from
NCHW float32 (micro-sam's own way). Without ``--checkpoint`` a random-weights model of ``--arch`` is
made (the decoders' cost does not depend on the weights).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_server"))


def main() -> None:
    """Time and compare the layouts; print one JSON line per configuration and a summary."""
    from pathosam_server._testing.checkpoints import make_random_checkpoint
    from pathosam_server._testing.glass import make_slide_region
    from pathosam_server.inference import layout
    from pathosam_server.inference.encoder import encode
    from pathosam_server.inference.models import ModelManager, local_spec
    from pathosam_server.inference.precision import bfloat16_pays_on_cpu, time_bfloat16_on_cpu
    from pathosam_server.inference.scheduler import TileScheduler

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--arch", default="vit_b")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or make_random_checkpoint(Path(tmp) / "random.pt", args.arch)
        model = ModelManager([local_spec(checkpoint, name="bench", precision="float32")], "cpu").get()
    image = make_slide_region(6, shape=(512, 512), tissue_fraction=1.0, isolated=0).sample.image
    with torch.inference_mode():
        features, sizes = encode(model, [image])
    decoder = model.decoder
    configs = [("nchw", None), ("nhwc", None), ("nchw", torch.bfloat16), ("nhwc", torch.bfloat16)]
    times: dict[str, list[float]] = {}
    maps: dict[str, np.ndarray] = {}
    for _ in range(args.repeat):
        for kind, dtype in configs:
            name = f"{kind} {'bfloat16' if dtype else 'float32'}"
            (layout.to_channels_last if kind == "nhwc" else lambda d, _dev: layout.to_nchw(d))(decoder, "cpu")
            with torch.inference_mode():
                t0 = time.perf_counter()
                maps[name] = TileScheduler._decode(decoder, features, sizes, dtype)[0]
                times.setdefault(name, []).append(time.perf_counter() - t0)
    reference = maps["nchw float32"]
    for name, seconds in times.items():
        diff = float(np.abs(maps[name] - reference).max())
        print(json.dumps({"config": name, "best_s": round(min(seconds), 2), "runs_s": [round(s, 2) for s in seconds],
                          "max_abs_diff_vs_nchw_float32": diff}))  # fmt: skip
    best = {k: min(v) for k, v in times.items()}
    print(json.dumps({
        "arch": model.spec.architecture, "threads": torch.get_num_threads(), "auto_is_bfloat16": bfloat16_pays_on_cpu(),
        "matmul_conv_ms_float32_bfloat16": [round(t * 1e3, 1) for t in time_bfloat16_on_cpu()],
        "nhwc_over_nchw_float32": round(best["nchw float32"] / best["nhwc float32"], 2),
        "nhwc_over_nchw_bfloat16": round(best["nchw bfloat16"] / best["nhwc bfloat16"], 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
