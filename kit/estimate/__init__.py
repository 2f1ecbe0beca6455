"""What a deployment will take before anything exists: how long the fine-tune runs, what it
costs, and what serving costs an hour (`kit plan`, and `kit up` before it asks to go on).

    tokens  the dataset's, counted (with the model's tokenizer when it is on this machine,
            else 4 characters a token) when the data is readable from here, else a LIMA-sized
            assumption; x epochs, plus the held-out evaluation (forward only: a third)
    rate    kit.estimate.throughput: learned from a finished run, else modelled
    hours   tokens / (rate x GPUs x scaling) + node start-up, image pull and weight staging
    cost    hours x nodes x the catalog's price of the pool's machine type (the cloud's
            CloudSupport.prices; `kit prices update` refreshes it), or gpu.usd_per_hour
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from kit.estimate import throughput

if TYPE_CHECKING:
    from kit.config import KitConfig

LIMA_EXAMPLES = 1000
LIMA_TOKENS_PER_EXAMPLE = 750      # LIMA: ~750K tokens over 1,000 examples
EVAL_COST = 1 / 3                  # a forward pass of the held-out split, per epoch
NODE_START_S = 300                 # a GPU node from zero (autoscaler, boot, driver)
IMAGE_PULL_S = 180                 # the trainer image (several GB) through the mirror
STAGING_BYTES_PER_S = 400e6        # weights from the bucket to the pod, bf16 = 2 bytes/param


@dataclass
class Estimate:
    gpu_type: str
    instance_type: str | None
    nodes: int
    gpus_per_node: int
    train_tokens: int
    tokens_per_s: float
    train_hours: float
    train_cost_usd: float | None
    serve_usd_per_hour: float | None
    price_source: str | None
    price_date: str | None
    assumptions: list[str] = field(default_factory=list)
    # What could stop or strain the run on this pool (kit.estimate.fit): too little GPU or host
    # memory (these are also `kit plan`'s blockers), or a tight fit.
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dataset_tokens(cfg: "KitConfig", *, examples: int | None, tokens: int | None) -> tuple[int, str]:
    """(tokens in one epoch, how known)."""
    if tokens is not None:
        return tokens, f"{tokens:,} tokens an epoch (--tokens)"
    if examples is not None:
        return examples * LIMA_TOKENS_PER_EXAMPLE, (f"{examples:,} examples (--examples) x "
                                                    f"{LIMA_TOKENS_PER_EXAMPLE} tokens (LIMA's mean)")
    from kit.data.validate import validate
    from kit.errors import KitError

    local = cfg.resolve_path(cfg.data.uri)
    source = str(local) if local is not None else cfg.data.uri
    model = cfg.resolve_path(cfg.model.id)
    try:
        report = validate(source, model_dir=str(model) if model and model.is_dir() else None,
                          max_length=cfg.training.max_length)
    except KitError as exc:
        return (LIMA_EXAMPLES * LIMA_TOKENS_PER_EXAMPLE,
                f"assumed a LIMA-sized set, {LIMA_EXAMPLES:,} examples x {LIMA_TOKENS_PER_EXAMPLE} "
                f"tokens (data not readable from here: {exc.message}; or pass --examples/--tokens)")
    per_epoch = int(report.stats.get("train_tokens_per_epoch") or report.stats["tokens"]["total"])
    how = "counted with the model's tokenizer" if report.stats.get("tokens_exact") else \
        "estimated at 4 characters a token (the model's tokenizer is not on this machine)"
    return per_epoch, f"{report.examples:,} examples, {per_epoch:,} tokens an epoch, {how}"


def estimate(cfg: "KitConfig", *, examples: int | None = None, tokens: int | None = None) -> Estimate:
    from kit.estimate.fit import training_nodes
    from kit.targets import support_for
    from kit.trainer.recipe import resolve

    settings = resolve(cfg.training.model_dump())
    method, epochs = settings["method"], settings["epochs"]
    per_epoch, how = dataset_tokens(cfg, examples=examples, tokens=tokens)
    eval_share = settings.get("eval_fraction") or 0.0
    total = int(per_epoch * epochs * (1 + eval_share * EVAL_COST))
    assumptions = [how, f"{epochs} epoch(s) ({method}), held-out evaluation at {EVAL_COST:.2g} of a "
                        f"training pass over {eval_share:.0%} of the data"]

    gpu_type, per_node = cfg.gpu.type, cfg.gpu.count
    pool = support_for(cfg.target).gpu_pool
    nodes = training_nodes(cfg) if pool else 1
    params, params_how = throughput.model_params(cfg.model.id, cfg.resolve_path(cfg.model.id))
    from kit.estimate import fit

    node = fit.node_of(cfg)
    sized = fit.assess_node(node, method, params, nodes)
    rate = throughput.learned(cfg.workdir.throughput, cfg.model.id, gpu_type, method) or \
        throughput.modelled(gpu_type, method, params, node.part)
    run_rate, efficiency = throughput.scaled(rate.tokens_per_s_per_gpu, per_node * nodes)
    overhead_s = NODE_START_S + IMAGE_PULL_S + params * 2 / STAGING_BYTES_PER_S
    hours = (total / run_rate + overhead_s) / 3600
    if not pool and not rate.source.startswith("measured"):
        assumptions.append(f"this machine is taken to have one {gpu_type} (gpu.type); the first run's "
                           "measured rate replaces this")
    assumptions += [f"{params / 1e9:.3g}B parameters ({params_how})",
                    f"{rate.tokens_per_s_per_gpu:,.0f} tokens/s per GPU: {rate.source}",
                    f"{per_node * nodes} GPU(s) at {efficiency:.0%} parallel efficiency "
                    f"({throughput.SCALING:.0%} kept per doubling)",
                    f"plus {overhead_s / 60:.0f} min for a node to start, the image to pull and the "
                    "weights to stage"]

    instance, hourly, source, date = _price(cfg, assumptions)
    cost = None if hourly is None else round(hours * nodes * hourly, 2)
    serve = None if hourly is None else round(cfg.serving.replicas * hourly, 2)
    if serve is not None:
        assumptions.append(f"serving: {cfg.serving.replicas} replica(s), one {instance or 'node'} each")
    return Estimate(gpu_type=gpu_type, instance_type=instance, nodes=nodes, gpus_per_node=per_node,
                    train_tokens=total, tokens_per_s=round(run_rate, 1), train_hours=round(hours, 3),
                    train_cost_usd=cost, serve_usd_per_hour=serve, price_source=source,
                    price_date=date, assumptions=assumptions,
                    warnings=[*sized.problems, *sized.warnings] if pool else [])



def _price(cfg: "KitConfig", assumptions: list[str]) -> tuple[str | None, float | None, str | None, str | None]:
    """(instance type, USD an hour, source, date) of one node of the GPU pool."""
    if cfg.gpu.usd_per_hour is not None:
        return None, cfg.gpu.usd_per_hour, "gpu.usd_per_hour in kit.yaml", None
    from kit.estimate.prices import catalog_for
    from kit.targets import support_for

    support = support_for(cfg.target)
    if not support.gpu_catalog:
        whose = " for your own cluster" if support.gpu_pool else ""
        assumptions.append(f"no price{whose}: set gpu.usd_per_hour to see a cost")
        return None, None, None, None
    instance = support.gpu_offer(cfg.gpu.type, cfg.gpu.count).machine_types[0]
    if not support.prices:
        assumptions.append(f"no price catalog ships for {cfg.target}: set gpu.usd_per_hour to see a cost")
        return instance, None, None, None
    catalog = catalog_for(support, cfg.workdir)
    price = catalog.price(cfg.region or "", instance, spot=cfg.gpu.spot)
    if price is None:
        if cfg.region not in catalog.regions:
            why = f"no published price for {cfg.region} in the {cfg.target} catalog ({catalog.date})"
        else:
            why = f"no published price for {instance} in {cfg.region} in the {cfg.target} catalog ({catalog.date})"
        assumptions.append(f"{why}; kit prices update, or set gpu.usd_per_hour")
        return instance, None, catalog.source, catalog.date
    hourly, kind = price
    if cfg.gpu.spot and kind != "spot":
        assumptions.append("spot price unknown: the on-demand price is shown (kit prices update "
                           "records spot prices)")
    return instance, hourly, f"{catalog.source} ({kind})", catalog.date
