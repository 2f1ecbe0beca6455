"""The pipeline every target runs: `kit up`, `kit train` and `kit serve` as phases.

    phases.py   a phase's outcome, recorded in state.json as it ends (DeploymentState, Phases)
    ledger.py   the run ledger (Run, RunStore) and the run fingerprint, "the same work"
    inputs.py   what the data and model phases return (Dataset, BaseModel), and the data check
    flow.py     the phase order, reuse, resume, the evaluation gate and the run record, for
                every target; a target supplies only primitives (flow.Primitives)
"""

from kit.pipeline.ledger import fingerprint, run_fingerprint
from kit.pipeline.phases import DeploymentState, Outcome, Phases, run_phases

__all__ = ["DeploymentState", "Outcome", "Phases", "fingerprint", "run_fingerprint", "run_phases"]
