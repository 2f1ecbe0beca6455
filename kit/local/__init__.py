"""Target local: one machine, no cloud (kit.local.target)."""
