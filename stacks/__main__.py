"""Entry point Pulumi runs (Pulumi.yaml: main: stacks/).

Pulumi puts this folder first on sys.path; it holds a package named `platform`, which would
shadow the standard library's. Put the project root there instead.
"""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
sys.path.insert(0, os.path.dirname(_here))

from stacks.program import main  # noqa: E402

main()
