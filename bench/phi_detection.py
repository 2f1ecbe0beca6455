"""Recall and false positives of the PHI screen (kit.data.phi).

    python bench/phi_detection.py

Recall on the planted set of tests/data/phi_planted.py (every kind, variants written apart from
the patterns), false positives on its clean clinical sentences and on the quick start's 50
conversations, and the screen's speed on the quick start's text. Prints one line per figure.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from kit.data.phi import find, scan
    from tests.data.phi_planted import CLEAN, PLANTED

    total = hits = 0
    for kind, texts in PLANTED.items():
        found = sum(kind in {k for k, _, _ in find(t)} for t in texts)
        total, hits = total + len(texts), hits + found
        print(f"recall {kind}: {found}/{len(texts)}")
    print(f"recall overall: {hits}/{total} = {hits / total:.1%}")
    flagged = sum(bool(find(t)) for t in CLEAN)
    print(f"false positives, clean sentences: {flagged}/{len(CLEAN)}")
    records = [json.loads(line)["messages"] for line in
               (ROOT / "examples" / "quickstart" / "data.jsonl").read_text().splitlines()]
    start = time.perf_counter()
    findings = [f for messages in records for f in scan(messages)]
    seconds = time.perf_counter() - start
    chars = sum(len(m["content"]) for messages in records for m in messages)
    print(f"false positives, examples/quickstart/data.jsonl: {len(findings)} findings in "
          f"{len(records)} conversations ({chars:,} characters, scanned in {seconds * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
