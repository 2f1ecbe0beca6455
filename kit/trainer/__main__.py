"""Entry point: `python -m kit.trainer --spec spec.json`."""

import sys

from kit.trainer.main import main

sys.exit(main())
