"""Validation throughput: examples/s of `kit.data.validate.validate` on a generated file.

    python bench/validate_throughput.py [--examples 100000] [--model DIR]

Without --model, tokens are estimated (the goal is >= 20k examples/s); with a local model
folder the real tokenizer and chat template count them. Prints one figure per run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = ("patient presents with mild chest pain radiating to the left arm history of "
         "hypertension and type two diabetes recommend an ecg troponin levels and follow up "
         "with cardiology within one week prior authorization letter for mri of the lumbar "
         "spine is requested due to persistent radicular symptoms").split()


def generate(path: Path, n: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            q = " ".join(rng.choices(WORDS, k=rng.randint(8, 40)))
            a = " ".join(rng.choices(WORDS, k=rng.randint(30, 200)))
            if i % 97 == 0:
                a += " contact me at someone@example.org"
            messages = [{"role": "user", "content": f"{q} ({i})"}, {"role": "assistant", "content": a}]
            if i % 3 == 0:
                messages.insert(0, {"role": "system", "content": "You are a careful clinical assistant."})
            fh.write(json.dumps({"messages": messages}) + "\n")
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--model", default=None, help="local model folder (real tokenizer)")
    args = parser.parse_args()
    from kit.data.validate import validate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        size = generate(path, args.examples)
        start = time.perf_counter()
        report = validate(str(path), model_dir=args.model, max_length=2048, phi="warn")
        seconds = time.perf_counter() - start
    assert report.ok and report.examples == args.examples, report.errors[:3]
    mode = "real tokenizer" if args.model else "no tokenizer (estimated tokens)"
    print(f"validate: {report.examples:,} examples ({size / 2**20:.0f} MiB) in {seconds:.2f}s = "
          f"{report.examples / seconds:,.0f} examples/s, {mode}; "
          f"{len(report.warnings):,} warnings")


if __name__ == "__main__":
    main()
