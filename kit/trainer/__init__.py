"""Fine-tuning that runs as `python -m kit.trainer`, locally and in the trainer image.

Kept light on purpose: importing this package imports no torch; the heavy modules are
imported by kit.trainer.main when a run starts.
"""

# Bump whenever a recipe default or anything else that changes the trained weights changes:
# it is part of the fine-tune phase fingerprint.
TRAINER_VERSION = "1"

