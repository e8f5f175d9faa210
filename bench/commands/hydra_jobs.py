"""Running a command on a Hydra config: every job of the command line composed and validated first, then
`hydra.main` (so `-m` sweeps and launchers work). A bad value stops the command before any model work or folder.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench.commands import Command, Handler, register
from bench.config.load import compose, override_problem
from bench.errors import BenchError, ConfigError, debugging
from bench.resources import CONF_DIR

HYDRA_FLAGS = ("--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "-i", "--resolve", "--package", "-p",
               "--shell-completion", "-sc", "--config-path", "-cp", "--config-name", "-cn")
CONFIG_DIR_FLAGS = ("--config-dir", "-cd")  # a user's own config groups: composed in the check as Hydra composes them


def config_dir_flag(args: list[str]) -> tuple[str | None, list[str]]:
    """(the folder of `--config-dir DIR` / `-cd DIR` / `--config-dir=DIR`, the other arguments)."""
    folder, rest, it = None, [], iter(args)
    for a in it:
        flag, eq, value = a.partition("=")
        if flag in CONFIG_DIR_FLAGS:
            folder = value if eq else next(it, None)
            if not folder:
                raise BenchError(f"command line: {flag} needs a folder of configs, e.g. {flag} ./conf")
        else:
            rest.append(a)
    return folder, rest


def search_path(args: list[str]) -> list[str]:
    """The overrides that put a user's config folders on the search path of the check's compose, as
    `hydra.main` puts them on its own: `--config-dir DIR` first, then the `hydra.searchpath=[...]` entries (Hydra
    adds both after the package's configs: https://hydra.cc/docs/advanced/search_path)."""
    import os

    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    folder, rest = config_dir_flag(args)
    given = [a for a in rest if a.split("=", 1)[0] == "hydra.searchpath"]
    if folder is None:
        return given[-1:]
    if not os.path.isdir(folder):
        raise BenchError(f"command line: --config-dir {folder}: no such folder")
    entries = [f"file://{os.path.abspath(folder)}"]
    if given:
        try:
            value = OverridesParser.create().parse_override(given[-1]).value()
        except HydraException as err:
            raise BenchError(f"command line: {override_problem(err) or str(err).splitlines()[0]}") from None
        entries += list(value) if isinstance(value, list) else [value]
    quoted = ",".join("'" + str(e).replace("\\", "\\\\").replace("'", "\\'") + "'" for e in entries)
    return [f"hydra.searchpath=[{quoted}]"]


def sweep_jobs(args: list[str]) -> list[list[str]]:
    """The overrides of every job a command line stands for (one job unless `-m` sweeps values).

    Expanded as Hydra's basic sweeper does, through Hydra's public override parser: a later override of a
    key replaces an earlier one, each discrete sweep contributes its values, and the jobs are their
    product (all of them: each is validated before the first one runs). A range-less sweep (`interval`)
    is refused, as that sweeper refuses it."""
    import itertools

    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    multirun = any(a in ("-m", "--multirun") for a in args)
    _, args = config_dir_flag(args)
    overrides = [a for a in args if a not in ("-m", "--multirun") and not a.startswith(("hydra.", "hydra/", "+hydra"))]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        raise BenchError(f"command line: {override_problem(err) or str(err).splitlines()[0]}") from None
    choices: dict[str, list[str]] = {}
    for o in parsed:
        key = o.get_key_element()
        if multirun and o.is_sweep_override():
            if not o.is_discrete_sweep():
                raise BenchError(f"command line: {o.input_line}: a sweep of this type cannot be listed as jobs "
                                 "(give its values: key=a,b or range(...))")
            choices[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
        else:
            choices.pop(key, None)  # keep the command line's order of keys, with the last value of each
            choices[key] = [o.input_line]
    return [list(job) for job in itertools.product(*choices.values())]


def checked_configs(config_name: str, args: list[str]) -> list[dict]:
    """Compose and validate every job (each returned frozen, `bench.config.frozen`); the first bad value
    raises, naming the override and the field."""
    from bench.config import validate

    configs = []
    jobs, where = sweep_jobs(args), search_path(args)
    for n, job in enumerate(jobs, 1):
        try:
            cfg = validate(config_name, compose(config_name, [*where, *job]))
        except ConfigError as err:
            if len(jobs) == 1:
                raise
            raise ConfigError(f"sweep job {n} of {len(jobs)} ({' '.join(job)}): {err}") from None
        configs.append(cfg)
    return configs


def hydra_handler(config_name: str, task: Callable[[dict], object], prog: str) -> Handler:
    """The handler of a Hydra command: every job's config checked before any runs, then Hydra runs `task` on
    each, a BenchError ending it as `error: ...` and exit 2."""
    def handler(args: list[str]) -> int:
        import hydra
        from omegaconf import OmegaConf

        from bench.hashing import digest

        checked = {}  # every job's config, validated and frozen before the first runs: a job finds its own
        if not any(a.split("=")[0] in HYDRA_FLAGS for a in args):
            checked = {digest(c): c for c in checked_configs(config_name, args)}

        def job(cfg) -> None:
            plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
            try:
                task(checked.get(digest(plain), plain))  # a config not checked above is checked by its pipeline
            except BenchError as err:
                if debugging([]):
                    raise
                print(f"error: {err}", file=sys.stderr)
                sys.exit(2)

        saved = sys.argv
        sys.argv = [prog, *args]
        try:
            hydra.main(config_path=str(CONF_DIR), config_name=config_name, version_base="1.3")(job)()
        finally:
            sys.argv = saved
        return 0

    return handler


def hydra_command(name: str, usage: str, help: str, config: str, task: Callable[[dict], object],
                  aliases: Callable[[list[str]], list[str]] | None = None) -> Command:
    """Register a command that composes `bench/conf/<config>.yaml` with the command line's overrides and
    runs `task` on each job's config (`aliases` rewrites short overrides first)."""
    handler = hydra_handler(config, task, f"persona-bench {name}")
    if aliases is not None:
        inner = handler

        def handler(args: list[str]) -> int:  # noqa: F811 (the handler with its aliases rewritten)
            return inner(aliases(args))

    return register(Command(name, usage, help, handler, config=config))


def section_aliases(keys: tuple[str, ...], prefix: str) -> Callable[[list[str]], list[str]]:
    """`key=...` for each of `keys` rewritten as `<prefix>key=...` (`models=` -> `compare.models=`)."""
    def rewrite(args: list[str]) -> list[str]:
        return [f"{prefix}{a}" if "=" in a and a.split("=", 1)[0] in keys else a for a in args]

    return rewrite
