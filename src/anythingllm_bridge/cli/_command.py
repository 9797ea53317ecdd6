"""typer's group and command classes, adjusted for ``allm``: every failure is one line, help is plain.

- :class:`AllmGroup` (the ``allm`` command itself) turns whatever ends a command into an exit code and
  at most one line on stderr: ``error: <what failed; what to do>``. Usage errors exit 2 and name the
  command's help, Ctrl-C exits 130 with ``error: interrupted``, and an unexpected exception is one
  line too (``--verbose`` logs its traceback).
- :class:`AllmCommand` writes help without typer's type tags (``<bool>``, ``<list[str]>``) and with
  arguments as ``NAME`` instead of ``{name}``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from anythingllm_bridge.cli._errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, CliError, describe
from anythingllm_bridge.tracing import get_logger

if TYPE_CHECKING:  # typer's own click, which its classes' methods are typed with
    from typer._click import Context, HelpFormatter

__all__ = ["AllmCommand", "AllmGroup", "AllmTyper", "print_error"]


def print_error(message: str) -> None:
    """``error: <message>`` on stderr, after whatever stdout still holds (and on a line of its own)."""
    sys.stdout.flush()
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


class AllmGroup(TyperGroup):
    """The top-level ``allm`` group: exit codes and one-line errors for every command below it."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; exit with its code (or return it when not ``standalone_mode``)."""
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # click's own errors: bad options, missing arguments
            code = _click_error(exc)
        except typer.Abort:  # a prompt ended by Ctrl-C or Ctrl-D
            print_error("interrupted")
            code = EXIT_INTERRUPTED
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: Context) -> Any:
        """Invoke the command; a :class:`CliError` (or any stray exception) becomes its line."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.TyperException, BrokenPipeError):  # the last: `allm ... | head`
            raise
        except CliError as exc:
            print_error(exc.line())
            raise typer.Exit(exc.code) from None
        except (KeyboardInterrupt, typer.Abort):
            print_error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            get_logger("anythingllm_bridge.cli").debug("unexpected failure", exc_info=True)
            print_error(describe(exc, url="the server", key_set=False))
            raise typer.Exit(EXIT_FAILURE) from None


def _click_error(exc: typer.TyperException) -> int:
    """Print click's error (a usage error: exit 2) as one line; return the exit code."""
    code = int(getattr(exc, "exit_code", EXIT_USAGE))
    ctx: Context | None = getattr(exc, "ctx", None)
    message = exc.format_message()
    if ctx is not None and message == ctx.get_help():  # `allm` alone, or a group without its command
        sys.stderr.write(message + "\n")
        return code
    message = message.strip().rstrip(".")
    message = message[:1].lower() + message[1:]
    option = getattr(exc, "option_name", None)
    if ctx is not None and ctx.parent is not None and option in _options_of(ctx.find_root()):
        root = ctx.find_root().command_path
        message = f"{option} is an option of {root} itself: put it before the command ({root} {option} ...)"
    error = CliError(message, code=code, usage_of=ctx.command_path if ctx is not None else None)
    print_error(error.line())
    return code


def _options_of(ctx: Context) -> set[str]:
    return {name for param in ctx.command.params for name in (*param.opts, *param.secondary_opts)}


class AllmCommand(TyperCommand):
    """A command whose help is plain: ``SLUG QUESTION`` in the usage line, no type tags."""

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        """``[OPTIONS] SLUG [FILE]...``: arguments by their metavar, optional ones in brackets."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = _argument_name(param)
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
        return pieces

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The arguments (name and help) and then the options (flags without a type tag)."""
        arguments = [
            (_argument_name(param) + ("..." if param.nargs != 1 else ""), param.help or "")
            for param in self.get_params(ctx)
            if isinstance(param, TyperArgument) and not param.hidden
        ]
        options = [
            record
            for param in self.get_params(ctx)
            if not isinstance(param, TyperArgument)
            for record in [param.get_help_record(ctx)]
            if record is not None
        ]
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


def _argument_name(param: TyperArgument) -> str:
    return param.metavar or (param.name or "").upper()


class AllmTyper(typer.Typer):
    """``typer.Typer`` whose commands are :class:`AllmCommand` unless told otherwise."""

    def command(  # type: ignore[override]
        self, name: str | None = None, *, cls: type[TyperCommand] | None = AllmCommand, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """As ``typer.Typer.command``, with ``cls`` defaulting to :class:`AllmCommand`."""
        return super().command(name, cls=cls, **kwargs)
