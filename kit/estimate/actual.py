"""After a run: what it really took (hours, GPU hours, cost at the estimate's price) beside what
was estimated, and its measured throughput, learned for the next estimate of the same model,
GPU and method (kit.estimate.throughput)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kit.config import KitConfig
    from kit.pipeline.ledger import Run


def planned(cfg: "KitConfig", tokens_per_epoch: int | None) -> dict[str, Any]:
    """The estimate a run starts with (stored in its record); {} when it cannot be made.
    `tokens_per_epoch`: what the data phase counted (the data is not read again)."""
    from kit.errors import KitError
    from kit.estimate import estimate

    try:
        e = estimate(cfg, tokens=tokens_per_epoch)
    except KitError:
        return {}
    hourly = None if e.train_cost_usd is None or not e.train_hours else \
        e.train_cost_usd / (e.train_hours * e.nodes)
    return {"train_hours": e.train_hours, "train_cost_usd": e.train_cost_usd, "nodes": e.nodes,
            "gpus": e.nodes * e.gpus_per_node, "usd_per_node_hour": hourly}


def record_actual(cfg: "KitConfig", run: "Run") -> None:
    """A succeeded run: its actual hours and cost (run.actual), and its throughput learned."""
    from kit.estimate.throughput import learn

    plan = run.estimate or {}
    if run.finished is None:
        return
    hours = max(run.finished - run.created, 0.0) / 3600
    nodes, gpus = plan.get("nodes") or 1, plan.get("gpus") or cfg.gpu.count
    hourly = plan.get("usd_per_node_hour")
    run.actual = {"hours": round(hours, 3), "gpu_hours": round(hours * gpus, 3),
                  "cost_usd": None if hourly is None else round(hours * nodes * hourly, 2)}
    rate = (run.metrics or {}).get("tokens_per_s")
    if isinstance(rate, (int, float)) and rate > 0:
        learn(cfg.workdir.throughput, cfg.model.id, cfg.gpu.type, run.method, run.id, float(rate), gpus)
