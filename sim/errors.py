"""The simulator's exceptions: problems a caller caused, each one line worded for a caller.

Scripts catch `RexsimError` (or one of its kinds); the `rexsim` command line prints it as one
line and exits 2. A library error names the argument a caller passed (`until`, `scale`,
`overrides[0]`); `option` names the command-line flag that sets it (`--until`), so the CLI
can word the same problem for its user without the library knowing about flags.
"""

from __future__ import annotations

__all__ = ["OutputError", "RexsimError", "RunError", "RunFileError", "ScenarioError",
           "Terminated"]


class RexsimError(Exception):
    """A problem the caller caused (bad scenario, argument, file): one line, no traceback."""

    def __init__(self, detail: str, *, param: str | None = None,
                 option: str | None = None) -> None:
        self.detail = detail
        self.param = param  # the library argument at fault, e.g. "until"
        self.option = option  # the command-line flag that sets it, e.g. "--until"
        super().__init__(f"{param}: {detail}" if param else detail)

    def for_cli(self) -> str:
        """The message worded for the command line (`--until: ...` instead of `until: ...`)."""
        if self.option:
            return f"{self.option}: {self.detail}"
        return str(self)


class ScenarioError(RexsimError, ValueError):
    """A scenario file, one of its fields or an override (`KEY=VALUE`) is invalid."""


class RunError(RexsimError, ValueError):
    """A run's arguments are invalid (seed, until, scale, size), or a Simulation is misused."""


class RunFileError(RexsimError, ValueError):
    """A file that should be rexsim output (a run, a sweep, a journal's run) is not one."""


class OutputError(RexsimError, OSError):
    """An output location cannot be written, or holds files that are not a run's own."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a batch scheduler) taken as an interrupt, in the CLI.

    It unwinds as Ctrl-C does, so a run's staging directory is removed on the way out.
    """
