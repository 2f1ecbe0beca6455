"""`kit bench`: load-test the deployment's own endpoint (never any other address)."""

from __future__ import annotations

from pathlib import Path

import click

from kit.commands import file_option, load_config, output_option, print_json


@click.command()
@file_option
@output_option
@click.option("--concurrency", default="1,2,4,8", show_default=True,
              help="Concurrent users per level, comma-separated.")
@click.option("--requests", "requests_", type=click.IntRange(1, 100_000), default=16, show_default=True,
              help="Requests per level (at most).")
@click.option("--duration", type=click.FloatRange(1, 3600), default=120.0, show_default=True,
              help="Seconds per level after which no new request starts.")
@click.option("--prompts", "prompts_file", type=click.Path(exists=True, path_type=Path), default=None,
              help="A data file of conversations (any format kit.yaml's data may use); default: "
                   "the held-out split of the deployment's data.")
@click.option("--max-tokens", type=click.IntRange(1, 65536), default=None,
              help="Tokens per reply (default: serving.max_new_tokens).")
@click.option("--slo-ttft", type=click.FloatRange(0.01, 600), default=2.0, show_default=True,
              help="Objective for the p95 time to first token, in seconds.")
def bench(config_file: Path, output: str, concurrency: str, requests_: int, duration: float,
          prompts_file: Path | None, max_tokens: int | None, slo_ttft: float) -> None:
    """Load-test the endpoint at each concurrency level; say how many users one replica serves."""
    from rich.console import Console

    from kit.cluster.deps import deployment_owners
    from kit.errors import KitError
    from kit.serving import bench_report as report
    from kit.serving.bench import knee, run
    from kit.target import for_config
    from kit.workdir import private_writes

    cfg = load_config(config_file)
    levels = report.levels_option(concurrency)
    target = for_config(cfg)
    endpoint = target.endpoint()
    run_id = target.status().get("run_id")
    prompts, source = report.prompts_for(cfg, prompts_file)
    console = Console(stderr=output == "json")
    console.print(f"kit bench: {endpoint.url} (run {run_id}), {source}")
    tokens = max_tokens or cfg.serving.max_new_tokens
    measured = run(endpoint, prompts, levels=levels, requests=requests_, duration_s=duration,
                   max_tokens=tokens, on_level=lambda lv: console.print(
                       f"  {lv.concurrency} users: {lv.requests} requests, {lv.failed} failed, "
                       f"{lv.output_tokens_per_s:,.1f} tokens/s", highlight=False))
    data = report.result(measured, knee_at=knee(measured, slo_ttft), slo_ttft_s=slo_ttft,
                         replicas=cfg.serving.replicas, endpoint=endpoint.url, run_id=run_id,
                         prompts=source, max_tokens=tokens)
    with private_writes():      # beside the run's artifacts, as private as they are (0600)
        data["saved"] = (report.save(target.run_artifacts(run_id), data, owners=deployment_owners(cfg))
                         if run_id else None)
    if output == "json":
        print_json(data)
    else:
        from kit.views import print_table

        print_table(report.table(data), report.NUMBER_COLUMNS, console)
        console.print(f"[bold]{data['summary']}[/]")
        if data["saved"]:
            console.print(f"saved: {data['saved']} (and .html)", highlight=False, soft_wrap=True)
    failed = sum(lv.failed for lv in measured)
    if failed:
        kinds = {}
        for lv in measured:
            for kind, n in lv.errors.items():
                kinds[kind] = kinds.get(kind, 0) + n
        total = sum(lv.requests for lv in measured)
        raise KitError(f"bench: {failed} of {total} requests failed "
                       f"({', '.join(f'{k}: {v}' for k, v in sorted(kinds.items()))})",
                       hint="see the server's log: kit logs --server")
