"""The image copy's former home, kept for stacks created before it moved to
stacks/cluster_layer/image_copy.py: Pulumi keeps a dynamic resource's provider in the stack's
state pickled by reference (this module's `_Copy`) and unpickles it for a delete, so `kit down`
of such a stack needs the name to resolve. A copy whose inputs are unchanged is never updated,
so the old reference stays in the state until the stack is gone."""

from stacks.cluster_layer.image_copy import _Copy

__all__ = ["_Copy"]
