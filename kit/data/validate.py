"""`kit data validate`: read every record, report what cannot be trained on (errors) and what
deserves a look (warnings), with statistics measured by the model's own tokenizer.

Errors and warnings each name file and line; PHI findings name the kind, message and characters,
never the value. Under `data.phi: refuse` (the default) a finding is an error: nothing trains on it.
A bucket URI is staged to a temporary folder first (streamed to disk, never held in memory).
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from kit.data import checks, phi, storage
from kit.data.formats import Example, Problem, data_files, read_file
from kit.data.tokens import estimate, load_counter

LIMA_EXAMPLES = 1000  # LIMA (arXiv 2305.11206): ~1,000 curated examples align a strong model
FEW_EXAMPLES = 200
MANY_EXAMPLES = 20_000
_BATCH = 512
PHI_POLICIES = ("refuse", "warn")
MAX_PHI_LINES = 10  # findings `kit up` prints under warn; `kit data validate` lists them all


@dataclass(frozen=True)
class Issue:
    source: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}" if self.line else f"{self.source}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.source, "line": self.line, "kind": self.kind, "message": self.message}


@dataclass
class Report:
    path: str
    examples: int = 0
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "examples": self.examples,
                "errors": [e.to_dict() for e in self.errors],
                "warnings": [w.to_dict() for w in self.warnings], "stats": self.stats}


@contextlib.contextmanager
def staged(path_or_uri: str) -> Iterator[tuple[Path, str]]:
    """(local path, display prefix): a bucket URI is synced to a temporary folder first."""
    text = str(path_or_uri)
    if not storage.is_remote(text):
        plain = not text.startswith("file://")
        yield (Path(text).expanduser() if plain else storage.local_path(text)), ""
        return
    from kit.data.sync import sync

    with tempfile.TemporaryDirectory(prefix="kit-validate-") as tmp:
        sync(text, tmp)
        yield Path(tmp), text.rstrip("/") + "/"


def _percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile: a value that occurs in the data."""
    if not sorted_values:
        return 0
    return sorted_values[max(0, math.ceil(q / 100 * len(sorted_values)) - 1)]


class _Checker:
    """Streams examples through the warning checks and batches them for token counting."""

    def __init__(self, report: Report, model_dir: str | None, max_length: int,
                 phi_policy: str) -> None:
        self.report, self.max_length, self.phi_policy = report, max_length, phi_policy
        self.count = load_counter(model_dir) if model_dir else estimate
        self.exact = model_dir is not None
        self.dups = checks.Duplicates()
        self.lengths: list[int] = []
        self.pending: list[Example] = []
        self.turns = 0
        self.flags = {"phi": 0, "short": 0, "long": 0, "tokens_cut": 0}
        self.phi_kinds: dict[str, int] = {}
        self.phi_found: list[tuple[Example, list[phi.Finding]]] = []
        self.local_files: dict[str, Path] = {}   # source name -> the local file read

    def warn(self, ex: Example, kind: str, message: str) -> None:
        self.report.warnings.append(Issue(ex.source, ex.line, kind, message))

    def add(self, ex: Example) -> None:
        self.report.examples += 1
        self.turns += len(ex.messages)
        seen = self.dups.check(ex.messages, ex.source, ex.line)
        if seen:
            kind, source, line = seen
            where = f"line {line}" if source == ex.source else f"{source}:{line}"
            self.warn(ex, "duplicate", f"{kind} duplicate of {where}")
        for number, words in checks.short_answers(ex.messages):
            self.flags["short"] += 1
            self.warn(ex, "short", f"very short answer in message {number} ({words} word"
                                   f"{'s' if words != 1 else ''})")
        found = phi.scan(ex.messages)
        if found:
            self.flags["phi"] += 1
            for finding in found:
                self.phi_kinds[finding.kind] = self.phi_kinds.get(finding.kind, 0) + 1
            self.phi_found.append((ex, found))
        self.pending.append(ex)
        if len(self.pending) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        for ex, n in zip(self.pending, self.count([ex.messages for ex in self.pending]), strict=True):
            self.lengths.append(n)
            if n > self.max_length:
                cut = n - self.max_length
                self.flags["long"] += 1
                self.flags["tokens_cut"] += cut
                about = "" if self.exact else "about "
                self.warn(ex, "too-long", f"{about}{n} tokens, longer than max length "
                                          f"{self.max_length}: {about}{cut} tokens get cut")
        self.pending = []

    def phi_issues(self) -> None:
        """One issue per example with likely PHI: kinds and columns of its JSONL line (read
        again, flagged lines only), or the message and its characters where the line does not
        hold the text as is. An error under data.phi: refuse, a warning under warn."""
        wanted: dict[str, set[int]] = {}
        for ex, _ in self.phi_found:
            wanted.setdefault(ex.source, set()).add(ex.line)
        raw = {source: phi.read_lines(self.local_files[source], lines)
               for source, lines in wanted.items()
               if self.local_files.get(source, Path()).suffix in (".jsonl", ".ndjson")}
        for ex, found in self.phi_found:
            line = raw.get(ex.source, {}).get(ex.line)
            places = []
            for f in found:
                columns = phi.file_columns(f, ex.messages[f.message - 1]["content"], line)
                places.append(f"{f.kind} at columns {columns[0]}-{columns[1]} (message "
                              f"{f.message}, {f.role})" if columns else f"{f.kind} in {f.where()}")
            if self.phi_policy == "refuse":
                self.report.errors.append(Issue(ex.source, ex.line, "phi", "likely PHI (data.phi: "
                                                f"refuse): {'; '.join(places)}"))
            else:
                self.warn(ex, "phi", f"likely PHI: {'; '.join(places)}")

    def stats(self, files: int, epochs: int | None, model_dir: str | None) -> dict[str, Any]:
        self.flush()
        lengths = sorted(self.lengths)
        per_epoch = sum(min(n, self.max_length) for n in lengths)
        stats = {
            "files": files,
            "examples": self.report.examples,
            "turns_per_example": round(self.turns / len(lengths), 2) if lengths else 0,
            "tokenizer": str(model_dir) if model_dir else None,
            "tokens_exact": self.exact,
            "tokens": {"total": sum(lengths), "mean": round(sum(lengths) / len(lengths), 1) if lengths else 0,
                       **{f"p{q}": _percentile(lengths, q) for q in (50, 90, 95, 99)},
                       "max": lengths[-1] if lengths else 0},
            "max_length": self.max_length,
            "truncated_examples": self.flags["long"],
            "tokens_cut": self.flags["tokens_cut"],
            "train_tokens_per_epoch": per_epoch,
            "duplicates": dict(self.dups.counts),
            "short_answers": self.flags["short"],
            "phi": {"policy": self.phi_policy, "examples": self.flags["phi"],
                    "findings": dict(sorted(self.phi_kinds.items()))},
        }
        if epochs:
            stats["epochs"] = epochs
            stats["train_tokens_total"] = per_epoch * epochs
        return stats


def validate(path_or_uri: str, *, model_dir: str | None = None, max_length: int = 2048,
             epochs: int | None = None, phi: str = "refuse") -> Report:
    """Validate a dataset (file, folder or bucket URI); see Report for what comes back.
    `phi` is data.phi: "refuse" makes each example with likely PHI an error, "warn" a warning."""
    with staged(str(path_or_uri)) as (local, display):
        return validate_local(local, path=str(path_or_uri), display=display, model_dir=model_dir,
                              max_length=max_length, epochs=epochs, phi=phi)


def validate_local(local: Path, *, path: str, display: str = "", model_dir: str | None = None,
                   max_length: int = 2048, epochs: int | None = None,
                   phi: str = "refuse") -> Report:
    """Validate local files; issues name them as `display` + relative name when display is set
    (the bucket URI they were staged from)."""
    if phi not in PHI_POLICIES:
        raise ValueError(f"phi must be one of {PHI_POLICIES}, got {phi!r}")
    report = Report(path=path)
    files = data_files(local)
    checker = _Checker(report, model_dir, max_length, phi)
    for file in files:
        if display:
            name = display + (file.relative_to(local).as_posix() if local.is_dir() else file.name)
        else:
            name = str(file)
        checker.local_files[name] = file
        for item in read_file(file, source=name):
            if isinstance(item, Problem):
                report.errors.append(Issue(item.source, item.line, "error", item.message))
            else:
                checker.add(item)
    checker.phi_issues()
    report.stats = checker.stats(len(files), epochs, model_dir)
    order = {name: i for i, name in enumerate(checker.local_files)}   # file, then line order
    for issues in (report.errors, report.warnings):
        issues.sort(key=lambda issue: (order.get(issue.source, len(order)), issue.line))
    _size_guidance(report)
    return report


def _size_guidance(report: Report) -> None:
    n = report.examples
    if 0 < n < FEW_EXAMPLES:
        report.warnings.append(Issue(report.path, 0, "size",
            f"only {n} usable examples; LIMA aligned a model with ~{LIMA_EXAMPLES:,} curated "
            "examples: add more high-quality, diverse ones"))
    elif n > MANY_EXAMPLES:
        report.warnings.append(Issue(report.path, 0, "size",
            f"{n:,} examples; LIMA showed ~{LIMA_EXAMPLES:,} carefully curated ones go a long way: "
            "quality and diversity matter more than quantity (and cost less to train)"))


def phi_lines(report: Report, limit: int = MAX_PHI_LINES) -> list[str]:
    """The PHI findings kept under `data.phi: warn`, one line each (file:line: kinds and where),
    for `kit up` to show: the first `limit`, then how many more."""
    found = [str(w) for w in report.warnings if w.kind == "phi"]
    more = len(found) - limit
    return found[:limit] + ([f"... and {more} more (kit data validate lists all)"] if more > 0 else [])
