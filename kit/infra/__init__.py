"""Pulumi: the stack driver (`kit up`/`down`), the offline plan and a live preview."""
