"""Entry point Pulumi runs (Pulumi.yaml: main: stacks/). Pulumi puts this folder first on
sys.path; the project root must be importable for `stacks.*` and `kit.*`."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stacks.program import main  # noqa: E402

main()
