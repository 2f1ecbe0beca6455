"""User-facing errors: one line that names what is wrong and where, plus a hint.

Everything a user can cause (bad config, missing file, unreachable server) is raised as a
KitError; the CLI prints it on one line and exits 1. Anything else is a bug and only shows
a traceback with --debug.
"""

from __future__ import annotations


class KitError(Exception):
    """An error the user can fix. `hint` says how."""

    exit_code = 1
    label = "error"      # the CLI's prefix: `error: <one line>`

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        if self.hint:
            text += f" (hint: {' '.join(self.hint.split())})"
        return text


class KitErrors(KitError):
    """Several independent problems found at once (a kit.yaml with three mistakes): each is its
    own KitError and prints on its own line, so a user fixes them all in one go."""

    def __init__(self, problems: list[KitError], summary: str) -> None:
        super().__init__("\n".join([" ".join(summary.split())] + [p.one_line() for p in problems]))
        self.problems = problems

    def one_line(self) -> str:
        """The summary, then one line per problem (the CLI prefixes the first with `error:`)."""
        return self.message


class Interrupted(KitError):
    """The user stopped the work (Ctrl-C: exit 130; SIGTERM or a closed terminal: 128 + the
    signal). The message says what was kept, the hint how to go on."""

    label = "interrupted"

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int = 130) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code


class MissingExtra(KitError):
    """A feature needs an optional dependency that is not installed."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this needs the '{module}' package, which is not installed",
            hint=f"pip install 'lima-kit[{extra}]'",
        )


def require(module: str, extra: str):
    """Import an optional dependency, or raise a one-line install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # only the missing module itself, not its broken deps
        if exc.name and module.split(".")[0] != exc.name.split(".")[0]:
            raise
        raise MissingExtra(module.split(".")[0], extra) from exc
