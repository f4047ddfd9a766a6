"""Click options made from RunConfig's table (``mmvideo.config``): one row gives flag, type, range, default, help.

``setting_options("fps", "aspect")`` decorates a command with those fields' options (each Click parameter is
named like its field); ``explicit_settings(ctx, params)`` keeps the ones given on the command line, which
override a config file, which overrides the defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from mmvideo.config import default, help_text, setting_fields, setting_type

F = TypeVar("F", bound=Callable[..., Any])


def flag(name: str) -> str:
    """The command-line form of one field: ``--top-k`` for ``top_k``."""
    return "--" + name.replace("_", "-")


def _click_type(name: str) -> click.ParamType:
    """Choice, IntRange or FloatRange from the field's spec (a plain string for labels and disable)."""
    spec = setting_fields()[name].metadata
    kind = setting_type(name)
    if "choices" in spec:
        return click.Choice(spec["choices"])
    if kind is int:
        return click.IntRange(spec.get("low"), spec.get("high"))
    if kind is float:
        above = spec.get("above")
        return click.FloatRange(above if above is not None else spec.get("low"), spec.get("high"),
                                min_open=above is not None)
    return click.STRING


def setting_option(name: str, *aliases: str) -> Callable[[F], F]:
    """The Click option of one RunConfig field (``aliases``: more flags, e.g. ``--size``); booleans get
    ``--x/--no-x`` so a flag can switch off what a config file switched on."""
    spec = setting_fields()[name].metadata
    if setting_type(name) is bool:
        return click.option(f"{flag(name)}/--no-{flag(name)[2:]}", name, default=default(name),
                            show_default=True, help=help_text(name))
    kwargs: dict[str, Any] = {"type": _click_type(name), "help": help_text(name), "metavar": spec.get("metavar")}
    if spec.get("multiple"):
        kwargs.update(multiple=True, default=())
    elif default(name) in (None, ()):
        kwargs.update(default=None, show_default=spec.get("shown", False))
    else:
        kwargs.update(default=default(name), show_default=True)
    return click.option(flag(name), *aliases, name, **kwargs)


def setting_options(*names: str) -> Callable[[F], F]:
    """Decorate a command with the options of ``names`` (all RunConfig fields when none), in table order."""
    chosen = names or tuple(setting_fields())

    def decorate(command: F) -> F:
        for name in reversed(chosen):
            command = setting_option(name)(command)
        return command

    return decorate


def explicit_settings(ctx: click.Context, params: dict[str, Any]) -> dict[str, Any]:
    """The RunConfig fields among ``params`` that were given on the command line (or by environment)."""
    given = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return {name: value for name, value in params.items()
            if name in setting_fields() and ctx.get_parameter_source(name) in given}
