"""The one rule for operator mistakes: one line on stderr that says what to do, exit code 2, no traceback.

Every ``biotracker`` command runs inside :class:`OneLineErrors`, the root command group. Whatever a
command raises that is an operator's to fix becomes ``error: <what and what to do>``:

- a :class:`~biotracker.errors.BiotrackerError` (``ConfigError``, ``PublishError`` ...), from any
  depth of any command: commands do not catch these themselves;
- a bad option or argument (click's usage errors, e.g. ``--lookback-days -5`` against ``min=0``, or a
  date callback from :mod:`biotracker.cli.options`), with a pointer to the command's ``--help``;
- a file the operator named that cannot be read or written (an ``OSError`` with a file name).

Commands report their own failures that are not the operator's mistake (no such alert, a feed that
failed) with :func:`fail` too, one line on stderr, but with exit code 1. Anything else is a defect
and keeps its traceback. The rule lives in the group's ``main``, so it
holds for the console script and for ``typer.testing.CliRunner`` alike.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer._click import exceptions as click_errors  # typer 0.29 vendors click; its errors live here
from typer.core import TyperGroup

from biotracker.errors import BiotrackerError

#: Exit status of every operator mistake (the status click gives usage errors).
OPERATOR_ERROR = 2


def one_line(text: str) -> str:
    """Collapse a message to one line (tracebacks of causes, YAML marks and pydantic lists span several)."""
    return " ".join(str(text).split())


def fail(message: str, code: int = OPERATOR_ERROR) -> NoReturn:
    typer.echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


def usage_line(exc: click_errors.UsageError) -> str:
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    return f"{exc.format_message()}{where}"


class OneLineErrors(TyperGroup):
    """Root group: runs the command in click's non-standalone mode and turns operator errors into one line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except BiotrackerError as exc:
            fail(str(exc))
        except click_errors.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click_errors.UsageError as exc:
            fail(usage_line(exc))
        except click_errors.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                sys.exit(1)
            if exc.filename is None:
                raise
            fail(f"{exc.strerror or exc}: {exc.filename}; check that the path exists and that you may use it")
        sys.exit(result if isinstance(result, int) else 0)
