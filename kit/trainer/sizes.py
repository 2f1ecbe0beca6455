"""What the trainer's memory and files weigh, as the trainer acts on it: kit.estimate.fit models
a run with the same figures (the estimate depends on the trainer, never the other way round).
Plain Python: no torch, so the estimate imports it on a machine without the [train] extra."""

from __future__ import annotations

import json
from pathlib import Path

GIB = 2**30
SAVE_SHARD = "2GB"     # shards the merged model is written in (kit.trainer.artifacts)
GPU_RESERVE_GIB = 1.0  # per GPU: CUDA context and allocator


def safetensors_params(folder: Path) -> float:
    """Parameters from the safetensors headers (shapes only: no weights are read)."""
    import struct

    total = 0
    for path in folder.glob("*.safetensors"):
        with path.open("rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(length))
        for name, info in header.items():
            if name != "__metadata__":
                count = 1
                for dim in info.get("shape", []):
                    count *= dim
                total += count
    return float(total)
