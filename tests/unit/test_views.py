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


def _runs_folder(tmp_path):
    """A deployment with two finished runs, one with a merged model folder."""
    import time

    from kit.pipeline.ledger import SUCCEEDED, Run, RunStore

    (tmp_path / "kit.yaml").write_text("name: tables\ntarget: local\nmodel:\n  id: demo:tiny-llama\n"
                                       "data:\n  uri: data.jsonl\n")
    store = RunStore(tmp_path / ".kit" / "tables" / "runs")
    ids = []
    for n in range(2):
        run = Run(id=store.new_id() + str(n), fingerprint="fp", status=SUCCEEDED,
                  created=time.time(), base_model="demo:tiny-llama", method="full",
                  metrics={"loss_first": 5.12345, "loss_last": 3.45678},
                  estimate={"train_hours": 0.0212, "train_cost_usd": 1234.5},
                  actual={"hours": 0.0345, "cost_usd": 2345.25})
        store.save(run)
        (store.dir(run.id) / "model").mkdir()
        ids.append(run.id)
    return ids


def test_kit_runs_never_cuts_ids_numbers_or_paths_at_80_or_120_columns(tmp_path):
    """The issue's case: `run-2026...` at 80 columns could not be pasted into `kit serve --run`."""
    from tests.conftest import run_kit

    ids = _runs_folder(tmp_path)
    for columns in ("80", "120"):
        result = run_kit("runs", cwd=tmp_path, env={"COLUMNS": columns})
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        for run_id in ids:
            line = next(line for line in lines if run_id in line)   # whole, on one line
            assert f".kit/tables/runs/{run_id}/model" in line
            for figure in ("5.123 → 3.457", "0.02 / 0.03", "$1,234.50 / $2,345.25"):
                assert figure in line, (columns, figure, line)
        assert "…" not in result.stdout


def test_wrappable_columns_wrap_and_kept_ones_stay_whole_when_it_fits():
    from rich.table import Table

    from kit.views import print_table

    table = Table("id", "note", box=None)
    table.add_row("run-20261207-171523-ab12", "a long note that may wrap " * 4)
    console = Console(record=True, width=80, color_system=None)
    print_table(table, ("id",), console)
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines) and len(lines) > 2   # the note wrapped
    assert "run-20261207-171523-ab12" in lines[1]


def test_bench_cells_stay_whole_at_80_and_120_columns():
    """`kit bench` cells read `92/204/...` at 80 columns before."""
    from kit.serving import bench_report
    from kit.views import print_table

    level = {"concurrency": 16, "requests": 1024, "errors": {"timeout": 3},
             "ttft_s": {"p50": 0.0921, "p95": 0.2043, "p99": 1.3105},
             "itl_s": {"p50": 0.0312, "p95": 0.0874}, "e2e_s": {"p50": 12.3456, "p95": 23.4567},
             "output_tokens_per_s": 12345.67, "requests_per_s": 123.45}
    for width in (80, 120):
        console = Console(record=True, width=width, color_system=None)
        print_table(bench_report.table({"max_tokens": 256, "levels": [level]}),
                    bench_report.NUMBER_COLUMNS, console)
        row = next(line for line in console.export_text().splitlines() if "1024" in line)
        for cell in ("92/204/1,310", "31/87", "12,346/23,457", "12,345.7", "123.45"):
            assert cell in row, (width, cell, row)
