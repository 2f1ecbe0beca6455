"""`python -m kit.trainer --spec spec.json`: the process contract the local target and the
fine-tune Job rely on. stdout: JSON-lines events only. Exit codes: kit.trainer.events."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback

from kit.trainer.events import EXIT_OK, Events, Preempted, classify


def _quiet_libraries() -> None:
    """Library logs and warnings go to stderr (stdout is already redirected there); no progress
    bars; no telemetry or hub calls: the weights are local."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("DISABLE_TQDM", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")   # transformers' weight loading too
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m kit.trainer", description=__doc__)
    parser.add_argument("--spec", required=True, help="path to spec.json")
    return parser.parse_args(argv)


def _on_sigterm(signum, frame) -> None:
    """Outside the training loop (loading, saving) there is nothing to checkpoint: stop cleanly.
    Inside it, transformers' JIT checkpoint handler takes over SIGTERM (see run.sft_config)."""
    raise Preempted("preempted (SIGTERM) outside the training loop; rerun the same run id to resume")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from kit.trainer.device import is_main_process, normalise_env

    normalise_env()
    events = Events.take_stdout(enabled=is_main_process())
    _quiet_libraries()
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from kit.trainer import recipe
        from kit.trainer import spec as specs

        spec = specs.load(args.spec)
        settings = recipe.resolve(spec.training)
        from kit.errors import require

        for module in ("torch", "transformers", "trl", "peft"):
            require(module, "train")
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.logging.set_verbosity_warning()
        transformers.logging.disable_progress_bar()
        from kit.trainer.run import train

        metrics = train(spec, settings, events)
    except BaseException as exc:  # every failure ends as one event line + an exit code
        kind, code, message = classify(exc)
        traceback.print_exc(file=sys.stderr)
        events.error(kind, message)
        return code
    events.emit("done", metrics=metrics)
    return EXIT_OK
