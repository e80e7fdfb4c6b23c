"""The ``obsstore`` command (typer + rich, the ``cli`` extra). :func:`main` runs it and returns
the exit status: 0 done, 1 behind (``check``), 2 a configuration, argument or schema error,
3 the database unreachable or locked. Errors are one line on stderr."""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_CONFIGURATION = 2


def main(argv: Sequence[str] | None = None) -> int:
    try:
        import typer

        from obsstore.cli.app import app
    except ImportError as exc:
        print(
            f"obsstore: the command line needs {exc.name or 'typer'}: pip install 'obsstore[cli]'",
            file=sys.stderr,
        )
        return EXIT_CONFIGURATION
    try:
        result = app(
            args=list(sys.argv[1:] if argv is None else argv),
            prog_name="obsstore",
            standalone_mode=False,
        )
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:  # a usage error: a bad option or argument
        context = getattr(exc, "ctx", None)
        path = context.command_path.split()[1:] if context is not None else []
        where = f"{' '.join(path)}: " if path else ""
        message = " ".join(exc.format_message().split())
        print(f"obsstore: {where}{message}", file=sys.stderr)
        return int(getattr(exc, "exit_code", EXIT_CONFIGURATION))
    except (typer.Abort, KeyboardInterrupt):
        print("obsstore: interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


__all__ = ["main"]
