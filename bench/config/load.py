"""Composing a config as the command line would, and validating it before any model work.

Every command that takes Hydra overrides goes through `compose` (then `bench.config.validate`): the
overrides are composed against the shipped config (package data) and its typed schema, and a bad value
raises `ConfigError` naming the override, the field and the value, before a folder is made or a model loads.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from bench.errors import ConfigError
from bench.resources import CONF_DIR

TOOL_SECTIONS = {"fidelity_table": "fidelity-table", "tv_check": "tv-check", "behaviour": "behaviour"}  # their own configs, not the run's


def compose(config_name: str, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The resolved config exactly as `persona-bench <tool> <overrides>` sees it, as a plain dict."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from bench.config.schema import register

    register()  # the yaml defaults lists name the schemas: they must be in the ConfigStore first
    try:
        if GlobalHydra.instance().is_initialized():
            # inside a command's own Hydra job (compare composes each model entry): Hydra's documented compose
            # within @hydra.main, on the command's search path, which is this package's conf/
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        else:
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
                cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except (HydraException, OmegaConfBaseException) as err:
        hint = "".join(f" ({o.split('=')[0]} is a setting of `persona-bench {cmd}`, not of a run)"
                       for o in overrides for section, cmd in TOOL_SECTIONS.items()
                       if config_name == "config" and o.lstrip("+~").startswith(section + "."))
        hint += "".join(" (the report's runs go to results_dir=..., as every tool's do)" for o in overrides
                        if o.lstrip("+~").startswith("report.results_dir"))
        raise ConfigError(f"config {config_name!r}: {override_problem(err) or one_line(err)}{hint}") from None


QUOTING = ("quote a value that holds accents or any of = , [ ] { } ( ) ' \" as text: key=\"chloé\", "
           "key=[anna,\"chloé\"] (with single quotes around the whole override for the shell), or escape the "
           "character with a backslash (key=a\\,b)")


def override_problem(err: BaseException) -> str | None:
    """A command-line override Hydra's grammar cannot parse, on one line: its message, the character it
    stopped at, and how quoting or escaping fixes it; None for any other error."""
    from hydra.errors import OverrideParseException

    while err is not None and not isinstance(err, OverrideParseException):
        err = err.__cause__ or err.__context__
    if err is None:
        return None
    lines = str(err).splitlines()
    head = lines[0].strip()
    caret = lines[1].find("^") if len(lines) > 1 else -1
    at = f" (at {lines[0][caret]!r}, character {caret - lines[0].find(':') - 1})" \
        if ": " in lines[0] and 0 <= caret < len(lines[0]) and caret > lines[0].find(":") else ""
    return f"{head}{at}; {QUOTING}"


def one_line(err: BaseException) -> str:
    """Hydra and OmegaConf errors span lines and chain causes: keep what names the override, the field
    (OmegaConf's `full_key`) and the value, and the options of a missing group choice, on one line."""
    parts: list[str] = []
    seen: set[BaseException] = set()
    while err is not None and err not in seen:
        seen.add(err)
        text = explain(err)
        if text and text != "None" and "$" not in text and text not in parts:  # "$KEY": an unfilled template
            parts.append(text)
        err = err.__cause__
    return "; ".join(parts)


def explain(err: BaseException) -> str:
    """One error's own message, without object types and search paths; `full_key: ` in front."""
    lines, options, listing = [], [], False
    for raw in str(err).splitlines():
        line = raw.strip()
        if not line or line.startswith(("object_type=", "reference_type=", "full_key:", "Set the environment",
                                   "To append to your config use", "See https://hydra.cc")):
            continue
        if line.startswith(("Config search path:", "invalid literal for", "could not convert string")):
            break
        if line.startswith("Available options in"):
            listing = True
            lines[-1:] = [f"{lines[-1]}; {line[0].lower()}{line[1:].rstrip(':')}:"] if lines else [line]
            continue
        if listing:
            options.append(line)
        else:
            lines.append(line)
    text = " ".join(lines)
    if options:
        text += " " + ", ".join(options)
    key = getattr(err, "full_key", None)
    if key and text.startswith("Missing mandatory value"):
        text = f"{key}: missing mandatory value (???): set {key}=<value>"
    elif key and not text.startswith(f"{key}:"):
        text = f"{key}: {text}"
    return text


def model_entries() -> list[str]:
    """The shipped model entries (bench/conf/model/*.yaml), the names `model=` takes."""
    return sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))


def model_node(entry: str, settings: dict | None = None) -> dict:
    """The model node `model=<entry> model.<key>=<value> ...` composes to: the entry's yaml, then each
    setting merged into its typed schema (so values take the types the command line gives them)."""
    from omegaconf.errors import OmegaConfBaseException

    from bench.config.schema import MODEL_SCHEMAS

    node = compose("config", [f"model={entry}"])["model"]
    if not settings:
        return node
    shape = "gguf" if {"package", "gguf_file"} & node.keys() else "path"
    try:
        merged = OmegaConf.merge(OmegaConf.structured(MODEL_SCHEMAS[shape]), node, settings)
        return OmegaConf.to_container(merged, throw_on_missing=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"model {entry}: {one_line(err)}") from None
