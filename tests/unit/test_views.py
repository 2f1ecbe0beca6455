"""The text view of `kit status`: the local shape stays as it was; a cluster target's nodes,
GPUs and training progress are shown when present."""

from __future__ import annotations

from rich.console import Console

from kit.views import print_status

PHASES = {"train": {"status": "done", "detail": "run-1 succeeded"}}


def render(info: dict) -> str:
    console = Console(record=True, width=120, color_system=None)
    print_status(info, console)
    return console.export_text()


def test_local_status_has_no_cluster_or_training_lines():
    text = render({"name": "demo", "target": "local", "endpoint": "http://127.0.0.1:8000",
                   "healthy": True, "run_id": "run-1", "server": {"pid": 1, "port": 8000},
                   "phases": PHASES, "workdir": "/tmp/x"})
    assert "demo (target local): healthy" in text
    assert "http://127.0.0.1:8000" in text and "run-1 succeeded" in text
    assert "cluster" not in text and "training" not in text


def test_cluster_status_shows_nodes_gpus_and_progress():
    text = render({"name": "prod", "target": "aws", "endpoint": None, "healthy": False,
                   "run_id": "run-7", "phases": PHASES, "workdir": "/tmp/x",
                   "cluster": {"nodes": 3, "ready": 2, "gpu_nodes": 1, "gpus": 4},
                   "training": {"run_id": "run-7", "status": "running", "step": 120, "total": 480,
                                "loss": 1.23456, "eta_s": 3725.0}})
    cluster = next(line for line in text.splitlines() if line.strip().startswith("cluster"))
    assert "3 node(s)" in cluster and "2 ready" in cluster
    assert "4 GPU(s) on 1 node(s)" in cluster
    training = next(line for line in text.splitlines() if line.strip().startswith("training"))
    assert "run-7 running" in training
    assert "step 120/480 (25%)" in training and "loss 1.235" in training
    assert "ETA 1h 02m" in training


def test_cluster_status_when_the_api_is_unreachable_or_the_run_ended():
    text = render({"name": "prod", "target": "kubernetes", "endpoint": None, "healthy": False,
                   "run_id": None, "phases": {}, "workdir": "/tmp/x",
                   "cluster": {"error": "kubernetes: cannot reach [the cluster]: timed out"},
                   "training": {"run_id": "run-8", "status": "succeeded"}})
    assert "unreachable: kubernetes: cannot reach [the cluster]: timed out" in text
    assert "run-8 succeeded" in text and "step" not in text and "ETA" not in text


def test_phase_details_are_recorded_as_plain_text(tmp_path):
    """`kit status --output json` reads state.json: no terminal markup may reach it."""
    from kit.pipeline import DeploymentState, Outcome, run_phases

    state = DeploymentState(tmp_path / "state.json")
    console = Console(record=True, width=120, color_system=None)
    from rich.markup import escape

    run_phases([("data", lambda: Outcome(f"12 examples valid [dim]({escape('/tmp/x [a]')})[/]")),
                ("model", lambda: Outcome("[yellow]tiny[/] model", skipped=True))], state, console)
    phases = state.load()["phases"]
    assert phases["data"]["detail"] == "12 examples valid (/tmp/x [a])"
    assert phases["model"]["detail"] == "tiny model"
    assert "12 examples valid (/tmp/x [a])" in console.export_text()


def test_a_model_reply_with_brackets_is_shown_as_written():
    from kit.pipeline import Outcome
    from kit.serving.smoke import SmokeResult

    result = SmokeResult(reply="ok [/INST] [bold]x", latency_s=0.1)
    assert Outcome(f"reply: {result.shown}").plain == "reply: 'ok [/INST] [bold]x'"
