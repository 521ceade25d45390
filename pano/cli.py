"""The ``pano`` command line: a click group whose commands live in :mod:`pano.commands`.

Commands are imported lazily, so ``pano --help`` answers at once without importing torch.
Every :class:`pano.errors.PanoError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import signal
import sys

import click

from pano import __version__

# name -> "module:attribute"; one line per command, in the order --help lists them.
COMMANDS: dict[str, str] = {
    "dream": "pano.commands.dream:dream",
    "upscale": "pano.commands.upscale:upscale",
    "mirage": "pano.commands.mirage:mirage",
    "see": "pano.commands.see:see",
    "beauty": "pano.commands.beauty:beauty",
    "video": "pano.commands.video:video",
    "view": "pano.commands.view:view",
    "info": "pano.commands.info:info",
    "models": "pano.commands.models:models",
}

SHORT_HELP: dict[str, str] = {
    "dream": "DeepDream a photosphere, seamless and pole-correct.",
    "upscale": "Upscale a photosphere with a Real-ESRGAN-class model.",
    "mirage": "Rebuild a photosphere from what a classifier sees in it.",
    "see": "Show the classes a classifier sees in a photosphere.",
    "beauty": "Train a pix2pix net on photos and repaint spheres with it.",
    "video": "Run a filter over a 360 video or timelapse.",
    "view": "Show photospheres and 360 videos in a browser or VR headset.",
    "info": "Show what pano sees in an image file.",
    "models": "List the models pano knows and where their weights are.",
}


class LazyGroup(click.Group):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001
        """As click's, but standalone errors are pano's one line (see :func:`run_standalone`)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        if complete_var is not None:
            extra["complete_var"] = complete_var
        run_standalone(self, args, prog_name, extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _available(name):
            return None
        module_name, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(name: str) -> bool:
    module_name = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="pano")
def cli() -> None:
    """pano: neural-network dreams for 360° photospheres and videos.

    \b
    Examples:
      pano dream sphere.jpg                 # writes sphere_dream.jpg
      pano upscale sphere_dream.jpg --scale 4
      pano view sphere.jpg sphere_dream.jpg # raw/dream crossfade, Enter VR
    """


def _terminate_as_interrupt() -> None:
    def interrupt(signum, frame) -> None:  # noqa: ANN001 - signal handler signature
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (main() called from a library): leave signals alone
        pass


def usage_error_line(exc: click.UsageError) -> str:
    """Click's usage error as one line: ``pano: error: <message> (see pano CMD --help)``.

    Click prints the usage, a hint and the error on four lines; pano's errors are one line, so its
    usage errors are too. ``--help`` still shows the full usage text."""
    message = " ".join(exc.format_message().split())
    where = exc.ctx.command_path if exc.ctx is not None else "pano"
    return f"pano: error: {message} (see {where} --help)"


def run_standalone(group: click.Group, args, prog_name, extra) -> None:  # noqa: ANN001
    """Run ``group`` as a program: PanoError -> one line + exit 2, click's usage errors one line too;
    Ctrl-C -> exit 130, no traceback."""
    try:
        click.Group.main(group, args=args, prog_name=prog_name, standalone_mode=False, **extra)
    except click.UsageError as exc:  # click's own: one line too, naming the command's --help
        click.echo(usage_error_line(exc), err=True)
        sys.exit(2)
    except click.ClickException as exc:  # PanoError
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("pano: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("pano: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except MemoryError:
        click.echo("pano: error: out of memory: try a smaller --size or --tile", err=True)
        sys.exit(2)
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (see :func:`run_standalone`). SIGTERM is handled as Ctrl-C, so a
    terminated run cleans up the same way (temp files removed, the video work folder kept for --resume)."""
    _terminate_as_interrupt()
    cli.main(args=argv, prog_name="pano")


if __name__ == "__main__":  # pragma: no cover
    main()
