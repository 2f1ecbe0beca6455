"""Every `kit` command in README.md's shell blocks runs, offline, as a reader would run it.

README.md is read when the tests are collected, never copied here: a command added to it is a
new test case, and one that fails (or cannot be run) fails the test. The rules:

- Commands are the lines of ```bash blocks that start with `kit ` or `.venv/bin/kit ` (several
  on a line are split at `;`; a trailing `# comment` is dropped). `pip install` and `make`
  lines are excluded by rule: they build the environment this test already runs in (`make
  quickstart` is the fixture below, `make test` runs this file). Any other command in a bash
  block fails the test, so a new kind of line gets a decision.
- Comment lines are prose, except `# in kit.yaml: <YAML>`, an edit the README asks the reader
  to make: it is merged into the kit.yaml of the block's folder before the next command.
- The reader's folder: the README's commands run from a copy of the repository's
  `examples/quickstart/` (its port moved to a free one; its training as shipped, since the
  smoke test rightly refuses a model that says nothing, as the tiny one does after a few epochs)
  on which one real
  `kit up` has fine-tuned and served the tiny demo model (one module-scoped fixture). A block
  that starts with `kit init` is a new project: it runs in a new folder named `acme-notes`, as
  in the README, holding `./my-data.jsonl` (a copy of the quick-start data, the file the README
  tells the reader to bring), and the blocks after it continue there. The placeholder RUN_ID
  is the quick-start deployment's run. Before each block the quick-start deployment is brought
  back up if an earlier block stopped it (`kit down`), as a reader would.
- Offline: nothing here reaches a cloud, a registry or the Hugging Face hub (HF_HUB_OFFLINE=1).
  `kit data validate --model ORG/NAME` needs only the model's tokenizer: it runs against a hub
  stand-in on loopback (tests/data/fake_hub.py, HF_ENDPOINT) serving a tokenizer built here
  under that name. The commands that cannot run without a cloud or a model's weights are
  skipped by the short lists below, each with its reason; they apply only where the folder's
  kit.yaml targets a cluster or names a hub model, so the same command on the local quick start
  still runs.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, free_port, run_kit
from tests.data.fake_hub import FakeHub
from tests.data.test_validate import model_dir  # noqa: F401  (fixture: a tiny real tokenizer)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

README = ROOT / "README.md"
QUICKSTART = "examples/quickstart/kit.yaml"
EXCLUDED = ("pip install", "make ")
KIT = re.compile(r"^(?:\.venv/bin/)?kit(?:\s|$)")
EDIT = re.compile(r"^#\s*in kit\.yaml:\s*(?P<yaml>.+?)\s*(?:\(.*\))?$")

# Where the folder's kit.yaml targets a cluster (aws, gcp, azure, kubernetes): these act on the
# cloud account or the cluster, which this test has not got.
NEEDS_CLOUD = {
    "doctor": "checks the account's credentials, buckets and the cluster's prerequisites",
    "images lock": "reads image digests from the upstream registries (ghcr.io, docker.io)",
    "up": "creates the stack in the cloud account",
    "train": "starts a fine-tune Job on the cluster",
    "serve": "rolls the cluster's inference server to a run",
    "logs": "reads the fine-tune Job's pod log from the cluster",
    "down": "destroys the stack in the cloud account",
}
# Where the command or the folder's kit.yaml names a Hugging Face hub model: fetched from the hub.
NEEDS_HUB = {
    "up": "downloads the model's weights from the Hugging Face hub",
}
# Hub commands that need only a tokenizer: run against the stand-in hub instead of skipped.
TOKENIZER_ONLY = ("data validate",)


def blocks(text: str) -> list[list[str]]:
    """The shell lines of each ```bash block of the README, in order."""
    return [body.splitlines() for body in re.findall(r"^```bash\n(.*?)^```", text, flags=re.M | re.S)]


def commands(lines: list[str]) -> list[str]:
    """The block's kit commands and kit.yaml edits (as '#edit <yaml>'), in order."""
    out = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if edit := EDIT.match(line):
                out.append("#edit " + edit["yaml"])
            continue
        for part in re.split(r"\s*;\s*", re.sub(r"\s+#.*$", "", line)):
            if not part or part.startswith(EXCLUDED):
                continue
            if not KIT.match(part):
                raise AssertionError(f"README.md: {part!r} is neither a kit command nor excluded by rule "
                                     "(pip install, make): make it runnable here or add a rule")
            out.append(part)
    return out


CASES = [(i, cmds) for i, cmds in enumerate(commands(b) for b in blocks(README.read_text(encoding="utf-8")))
         if cmds]


def _subcommand(argv: list[str]) -> str:
    words = [a for a in argv if not a.startswith("-")]
    return " ".join(words[:2]) if words[:1] in (["images"], ["data"], ["model"]) else (words[:1] or [""])[0]


def _is_hub_id(value: str | None) -> bool:
    return bool(value) and re.fullmatch(r"[\w.-]+/[\w.-]+", value) is not None and not value.startswith(".")


def skip_reason(argv: list[str], folder: Path) -> str | None:
    """Why this command cannot run offline here, from the lists above, or None."""
    sub = _subcommand(argv)
    path = folder / (argv[argv.index("-f") + 1] if "-f" in argv else "kit.yaml")
    cfg = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if cfg.get("target", "local") != "local" and sub in NEEDS_CLOUD:
        return f"target {cfg['target']}: {NEEDS_CLOUD[sub]}"
    model = argv[argv.index("--model") + 1] if "--model" in argv else (cfg.get("model") or {}).get("id")
    if sub in NEEDS_HUB and _is_hub_id(model) and not (folder / model).exists():
        return f"{model}: {NEEDS_HUB[sub]}"
    return None


def _kit(argv: list[str], folder: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_kit(*argv, cwd=folder, env={"HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})})


@pytest.fixture(scope="module")
def hub():
    server = FakeHub()
    yield server
    server.close()


def _hub_env(argv: list[str], folder: Path, hub: FakeHub, tokenizer: Path) -> dict[str, str] | None:
    """For a tokenizer-only command naming a hub model: serve a tokenizer under that name on the
    stand-in hub and point the kit at it (HF_ENDPOINT); None for any other command."""
    if _subcommand(argv) not in TOKENIZER_ONLY or "--model" not in argv:
        return None
    model = argv[argv.index("--model") + 1]
    if not _is_hub_id(model) or (folder / model).exists():
        return None
    hub.add(model, tokenizer)
    return {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_TOKEN": "",
            "HF_HOME": str(folder / ".hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"}


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    """The reader's folder after `make quickstart`: the quick start trained and served."""
    root = tmp_path_factory.mktemp("readme")
    example = root / "examples" / "quickstart"
    shutil.copytree(ROOT / "examples" / "quickstart", example, ignore=shutil.ignore_patterns(".kit"))
    cfg = (example / "kit.yaml").read_text(encoding="utf-8")
    cfg = re.sub(r"(?m)^(\s+port:\s*)\d+", rf"\g<1>{free_port()}", cfg, count=1)
    (example / "kit.yaml").write_text(cfg, encoding="utf-8")
    shutil.copy(example / "data.jsonl", root / "my-data.jsonl")
    up = _kit(["up", "--yes", "-f", QUICKSTART], root)
    assert up.returncode == 0, f"kit up of the quick start failed:\n{up.stdout}\n{up.stderr}"
    state = {"root": root, "folder": root}
    yield state
    _kit(["down", "--yes", "-f", QUICKSTART], root)


def _quickstart_serving(root: Path) -> str:
    """Bring the quick start back up if a block stopped it; its run id."""
    info = json.loads(_kit(["status", "--output", "json", "-f", QUICKSTART], root).stdout or "{}")
    if not info.get("healthy"):
        up = _kit(["up", "--yes", "-f", QUICKSTART], root)
        assert up.returncode == 0, f"kit up of the quick start failed:\n{up.stdout}\n{up.stderr}"
        info = json.loads(_kit(["status", "--output", "json", "-f", QUICKSTART], root).stdout)
    return info["run_id"]


def _merge(into: dict, edit: dict) -> dict:
    for key, value in edit.items():
        into[key] = _merge(into.get(key) or {}, value) if isinstance(value, dict) else value
    return into


def test_the_readme_has_commands_to_run():
    """A guard on the extraction itself: the quick start's own commands are found."""
    found = [c for _, cmds in CASES for c in cmds]
    assert any(KIT.match(c) and QUICKSTART in c for c in found)
    assert any(c.startswith("kit init") for c in found)


@pytest.mark.parametrize(("index", "cmds"), CASES, ids=[f"block{i}:{c[0][:40]}" for i, c in CASES])
def test_readme_block_runs(reader, hub, model_dir, index, cmds):  # noqa: F811
    root = reader["root"]
    run_id = _quickstart_serving(root)
    if cmds[0].startswith("kit init"):     # a new project, in a new folder
        folder = root / f"acme-notes-{index}" / "acme-notes"
        folder.mkdir(parents=True)
        shutil.copy(root / "my-data.jsonl", folder / "my-data.jsonl")
        (folder / "examples").symlink_to(root / "examples")
        reader["folder"] = folder
    folder = reader["folder"]
    skipped = []
    for command in cmds:
        if command.startswith("#edit "):
            path = folder / "kit.yaml"
            cfg = _merge(yaml.safe_load(path.read_text(encoding="utf-8")), yaml.safe_load(command[6:]))
            path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
            continue
        argv = shlex.split(command.replace("RUN_ID", run_id))[1:]
        env = _hub_env(argv, folder, hub, model_dir)
        if env is None and (reason := skip_reason(argv, folder)):
            skipped.append(f"{command}: {reason}")
            continue
        result = _kit(argv, folder, env)
        assert result.returncode == 0, (f"README.md command failed (exit {result.returncode}): {command}\n"
                                        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    print("\n".join(f"skipped: {s}" for s in skipped))   # shown with -rA / -s


def test_the_quick_start_says_which_checkpoint_it_keeps_and_where_the_lowest_loss_was(reader):
    """What the README says of training.select, on the quick start it just ran (select: last, as
    its kit.yaml explains): `kit runs --output json` and the run's events carry the selection,
    `kit eval` (text and JSON) names it and the epoch of lowest held-out loss."""
    root = reader["root"]
    run_id = _quickstart_serving(root)
    runs = json.loads(_kit(["runs", "--output", "json", "-f", QUICKSTART], root).stdout)
    run = next(r for r in runs if r["id"] == run_id)
    folder = Path(run["artifacts"]["dir"])
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    evals = {r["step"]: r["eval_loss"] for r in records if r["kind"] == "eval" and r["step"] > 0}
    selection = run["metrics"]["selection"]
    assert (selection["mode"], selection["step"], selection["last_step"]) == \
        ("last", max(evals), max(evals))
    assert f"step {min(evals, key=evals.get)}" in selection["reason"]     # where the lowest was
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in e.items() if k != "time"} for e in events
            if e.get("event") == "select"] == [{"event": "select", **selection}]
    shown = json.loads(_kit(["eval", "--output", "json", "-f", QUICKSTART], root).stdout)
    assert shown["selection"] == selection
    assert shown["eval"]["tuned_loss"] == pytest.approx(evals[selection["step"]], abs=1e-4)
    text = _kit(["eval", "-f", QUICKSTART], root).stdout
    assert shown["facts"]["checkpoint"] in text and shown["facts"]["verdict"]["text"] in text
    print(f"quick start: held-out loss by step {evals}; kept step {selection['step']}")
