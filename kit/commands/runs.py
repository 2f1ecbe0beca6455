"""train, serve, runs, logs, chat, eval: the fine-tune runs of a deployment (start one, serve one,
list them, read their logs) and talking to the endpoint, on every target."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kit.commands import file_option, load_config, output_option, print_json


@click.command()
@file_option
@output_option
def runs(config_file: Path, output: str) -> None:
    """List fine-tune runs, newest first."""
    from kit.target import for_config

    items = for_config(load_config(config_file)).runs()
    if output == "json":
        print_json(items)
        return
    from kit.views import print_runs

    print_runs(items)


@click.command()
@file_option
@click.argument("run_id", required=False)
@click.option("--server", is_flag=True, help="Show the inference server's log instead.")
@click.option("-F", "--follow", "follow", is_flag=True,
              help="Keep printing while the run trains; stop when it ends.")
@click.option("--raw", is_flag=True,
              help="The trainer's output as written: library warnings and tracebacks too.")
@output_option
def logs(config_file: Path, run_id: str | None, server: bool, follow: bool, raw: bool,
         output: str) -> None:
    """Show how RUN_ID trained (default: the latest run): steps with loss, learning rate and
    tokens/s, evaluations, checkpoints, how it ended and the evaluation gate's verdict.
    `--output json` prints the same events as JSON lines."""
    from kit.target import for_config

    lines = for_config(load_config(config_file)).log_lines(run_id, server=server, follow=follow,
                                                           raw=raw)
    if not (server or raw):
        from kit.logview import story

        lines = story(lines, output=output)
    for line in lines:
        click.echo(line)


@click.command()
@file_option
@click.argument("prompt", nargs=-1, required=True)
@click.option("--system", default=None,
              help="A system message to send first (default: serving.system_prompt).")
@click.option("--max-tokens", type=click.IntRange(1, 65536), default=None,
              help="Default: serving.max_new_tokens from kit.yaml.")
@click.option("--stream/--no-stream", default=None, help="Default: stream on a terminal.")
def chat(config_file: Path, prompt: tuple[str, ...], system: str | None, max_tokens: int | None,
         stream: bool | None) -> None:
    """Send PROMPT to the endpoint and print the reply."""
    from kit.serving.client import chat as send
    from kit.target import for_config

    cfg = load_config(config_file)
    endpoint = for_config(cfg).endpoint()
    system = system if system is not None else cfg.serving.system_prompt
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": " ".join(prompt)}]
    stream = sys.stdout.isatty() if stream is None else stream
    for piece in send(endpoint, messages, stream=stream,
                      max_tokens=max_tokens or cfg.serving.max_new_tokens):
        click.echo(piece, nl=False)
    click.echo()


@click.command("eval")
@file_option
@click.argument("run_id", required=False)
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the HTML report here (it is always written beside the run's artifacts).")
@output_option
def evaluate(config_file: Path, run_id: str | None, report_path: Path | None, output: str) -> None:
    """Show RUN's held-out evaluation (default: the latest run) against its base model and the
    run now serving, and write the report page."""
    from kit import eval_facts, eval_report
    from kit.cluster.deps import deployment_owners
    from kit.errors import KitError
    from kit.target import for_config
    from kit.workdir import private_writes

    cfg = load_config(config_file)
    target, owners = for_config(cfg), deployment_owners(cfg)
    runs = target.runs()
    run = next((r for r in runs if r["id"] == run_id), None) if run_id else next(iter(runs), None)
    if run is None:
        raise KitError(f"no run {run_id}" if run_id else "no runs yet", hint="see `kit runs`")
    held, records = eval_report.load(target.run_artifacts(run["id"]), owners=owners)
    serving_id = target.status().get("serving_run")
    serving = next((r for r in runs if r["id"] == serving_id), None)
    serving_held = None
    if serving is not None:
        try:
            serving_held = eval_report.load(target.run_artifacts(serving_id), owners=owners)[0]
        except KitError:        # a run trained before held-out evaluation: no column for it
            serving_held = None
    html = eval_report.page(run, held, records, serving, serving_held)
    with private_writes():      # held-out examples: the customer's data (0600)
        saved = eval_report.save(target.run_artifacts(run["id"]), html, owners=owners)
        if report_path is not None:
            report_path.write_text(html, encoding="utf-8")
    found = eval_facts.facts(run, held, serving, serving_held)
    if output == "json":
        print_json({"run_id": run["id"], "status": run["status"], "eval": run.get("eval") or held,
                    "serving_run": serving_id, "report": saved,
                    "selection": (run.get("metrics") or {}).get("selection"), "facts": found,
                    "samples": held.get("samples") or []})
        return
    for line in eval_facts.text_lines(found):
        click.echo(line)
    click.echo(f"report: {report_path or saved}")


@click.command()
@file_option
@click.option("--detach", is_flag=True, help="Return once the Job runs; `kit logs -F` follows it.")
def train(config_file: Path, detach: bool) -> None:
    """Start a new fine-tune run (same data and settings allowed); it is not served."""
    from kit.target import for_config
    from kit.targets import support_for
    from kit.terminal import make_console, program

    cfg = load_config(config_file)
    if detach:
        support = support_for(cfg.target)
        support.use(support.detaches)  # a one-line error where it trains in the foreground
    console = make_console()
    run = for_config(cfg).train(console, detach=detach)
    if detach and run.status != "succeeded":
        console.print(f"[bold]detached[/]: run {run.id} is training; follow it: "
                      f"{program()} logs -F {run.id} -f {config_file}")
        return
    console.print(f"[bold green]trained[/]: run {run.id}; serve it with: "
                  f"{program()} serve --run {run.id} -f {config_file}")


@click.command()
@file_option
@click.option("--run", "run_id", required=True, help="The run to serve (see `kit runs`).")
@click.option("--force", is_flag=True, help="Serve it even though the evaluation gate rejected it.")
def serve(config_file: Path, run_id: str, force: bool) -> None:
    """Roll the inference server to RUN (also how to roll back), then smoke-test it."""
    from kit.target import for_config
    from kit.terminal import make_console

    cfg = load_config(config_file)
    console = make_console()
    from kit.recorded import remember

    try:
        result = for_config(cfg).serve(console, run_id, force=force)
    finally:                       # `kit down` can stop what it made even if kit.yaml breaks
        if cfg.workdir.exists():   # (a preflight that fails leaves nothing, this included)
            remember(cfg)
    console.print(f"[bold green]serving[/] run {result['run_id']} at {result['endpoint']}")
