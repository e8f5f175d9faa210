"""The checks of a run config: every field a run reads, refused before any model work or folder."""

from __future__ import annotations

from pathlib import Path

from bench.config.rules import ABSENT, boolean, choice, corpus_fields, corpus_path, existing, field_error, \
    finite_number, folder_name, integer, lookup, nonempty_text, number, output_folder, path_kind, seed, \
    string_list, table_reading
from bench.errors import ConfigError, cli_value
from bench.instruments.fields import is_num


def check_run(cfg: dict) -> None:
    """Every field a run reads, refused before any model work; every tool built on runs also applies it
    to the run config it passes on."""
    temperatures = lookup(cfg, "temperatures")
    if not isinstance(temperatures, list) or not temperatures:
        raise field_error("temperatures", temperatures, "needs at least one temperature, e.g. temperatures=[0.0]")
    for t in temperatures:
        try:
            finite_number("temperatures", t, low=0)
        except ConfigError:
            raise field_error("temperatures", temperatures, f"{cli_value(t)} is not a finite number >= 0") from None
    dupes = sorted({t for t in temperatures if temperatures.count(t) > 1})
    if dupes:
        raise field_error("temperatures", temperatures, f"{', '.join(map(cli_value, dupes))} listed more than once")
    integer(cfg, "repetitions", 1)
    integer(cfg, "batch_size", 1)
    integer(cfg, "max_new_tokens", 1)
    integer(cfg, "max_items", 1, optional=True)
    seed(cfg, "seed")
    boolean(cfg, "progress")
    check_administration(cfg)
    check_engine(cfg)
    check_model(cfg, "model")
    check_adapter_field(cfg)
    check_inventory(cfg)
    check_persona(cfg)
    check_population_field(cfg)
    output_folder(cfg, "results_dir")
    folder_name(cfg, "run_name")
    check_split(cfg)
    check_plan_size(cfg)


def check_split(cfg: dict) -> None:
    """workers=N (N >= 1) splits the run's units over N processes; worker=i (0 <= i < N) is one of them."""
    workers, worker = cfg.get("workers"), cfg.get("worker")
    for key, low in (("workers", 1), ("worker", 0)):
        if key in cfg:  # absent from tools' run configs and older saved ones: one process
            integer(cfg, key, low, optional=True)
    if worker is None:
        return
    if workers is None:
        raise field_error("worker", worker, "needs workers=N, the number of processes the run is split over "
                          "(e.g. workers=2 worker=0); without worker, workers=N starts all N here")
    if worker >= workers:
        raise field_error("worker", worker, f"must be < workers={workers}: the workers are numbered 0 to {workers - 1}")


def check_plan_size(cfg: dict) -> None:
    """The plan's size from what the config says (personas counted where known without building them: a
    backstory set's n, persona.ids; else one), refused over the limit before anything is built or written;
    `build_plan` checks the exact size again before it enumerates."""
    from bench.administration.plan import PlanError, plan_size_problem
    from bench.errors import BenchError
    from bench.instruments import load_inventory

    persona, inv = lookup(cfg, "persona"), lookup(cfg, "inventory")
    ids, max_items = persona.get("ids"), lookup(cfg, "max_items")
    personas = len(ids) if isinstance(ids, list) else int(persona["n"]) if persona.get("set") == "backstory" \
        or (persona.get("path") and isinstance(persona.get("n"), int)) else 1
    try:
        items = len(load_inventory(inv.get("path") or inv.get("name")).items)
    except BenchError:  # a PsychoBench scale, or a bad file: read and named when the run loads it
        items = 1
    templates = lookup(cfg, "templates")
    factors = {"personas": personas, "templates": len(templates) if isinstance(templates, list) else 1,
               "option orders": len(lookup(cfg, "option_orders")), "temperatures": len(lookup(cfg, "temperatures")),
               "repetitions": lookup(cfg, "repetitions"), "items": min(items, max_items or items)}
    try:
        problem = plan_size_problem(factors, at_least=True)
    except PlanError as err:
        raise ConfigError(str(err)) from None
    if problem:
        raise ConfigError(problem)


def check_administration(cfg: dict) -> None:
    """Scoring, administration mode and option orders by name, the prompt's answer prefix and format,
    and templates that name the prompt's own template ids."""
    from bench.administration.administer import SCORING_MODES
    from bench.administration.plan import MODES, ORDERS
    from bench.engines.rendering import FORMATS

    choice(cfg, "scoring", SCORING_MODES)
    choice(cfg, "administration", MODES)
    string_list(cfg, "option_orders", options=ORDERS)
    prompt = lookup(cfg, "prompt")
    if not isinstance(prompt, dict) or not isinstance(prompt.get("answer_prefix"), str):
        raise field_error("prompt.answer_prefix", lookup(cfg, "prompt.answer_prefix"), "must be a string")
    if "format" in prompt:  # absent in configs written before prompt formats: auto
        choice(cfg, "prompt.format", FORMATS)
    ids = sorted({str(t.get("id")) for ts in prompt.values() if isinstance(ts, list) for t in ts
                  if isinstance(t, dict)})
    string_list(cfg, "templates", optional=True, options=ids)


def check_engine(cfg: dict) -> None:
    """The engine by name, and each option by the rule its engine module declares (`bench.engines.registry`)."""
    from bench.engines import engine_names, option_problems

    engine = lookup(cfg, "engine")
    if not isinstance(engine, dict):
        raise field_error("engine", engine, f"must be one of the engine configs: {', '.join(engine_names())}")
    choice(cfg, "engine.name", engine_names())
    if "api_key" in engine:  # it would be written into config.yaml, its hash and every run folder's name
        raise field_error("engine.api_key", "<hidden>", "a key is never read from a config; put it in the environment "
                  "variable that engine.api_key_env names (default OPENAI_API_KEY)")
    problems = option_problems(engine["name"], {k: v for k, v in engine.items() if k != "name"})
    if problems:
        key, value, problem = problems[0]
        raise field_error(f"engine.{key}", value, problem)


def check_model(cfg: dict, at: str) -> None:
    """The model node at `at` (model, a rater, a compare entry): an existing local folder, or a GGUF
    package and file."""
    from bench.engines.models import DTYPES, SOURCES, model_folder_problem

    nonempty_text(cfg, f"{at}.id")
    choice(cfg, f"{at}.source", SOURCES)
    choice(cfg, f"{at}.dtype", (*DTYPES, "auto"))
    integer(cfg, f"{at}.max_model_len", 1)
    boolean(cfg, f"{at}.requires_adapter")
    if lookup(cfg, f"{at}.source") == "path":
        if lookup(cfg, f"{at}.path") in (None, ABSENT, ""):
            raise field_error(f"{at}.path", None, f"model={lookup(cfg, f'{at}.id')} reads a local HF model folder: set "
                                          f"{at}.path=<folder>")
        existing(cfg, f"{at}.path", "folder", optional=False)
        problem = model_folder_problem(Path(lookup(cfg, f"{at}.path")).expanduser())
        if problem:
            raise field_error(f"{at}.path", lookup(cfg, f"{at}.path"), f"will not load: {problem}")
    else:
        nonempty_text(cfg, f"{at}.package")
        nonempty_text(cfg, f"{at}.gguf_file")


def check_adapter_field(cfg: dict) -> None:
    """`adapter`: a peft folder that loads (its config and its weights' header read now, not after the model
    work), given exactly when the model entry takes one (requires_adapter: clone_lora)."""
    from bench.engines.models import adapter_folder_problem, adapter_needed

    adapter = lookup(cfg, "adapter")
    if adapter in (None, "") and lookup(cfg, "model.requires_adapter"):
        raise ConfigError(adapter_needed(lookup(cfg, "model.id")))
    if adapter == "":
        raise field_error("adapter", adapter, "must be a folder, or null")
    existing(cfg, "adapter", "folder", what=" (a peft LoRA adapter folder)")
    if adapter is None or adapter is ABSENT:
        return
    problem = adapter_folder_problem(Path(adapter).expanduser())
    if problem:
        raise field_error("adapter", adapter, f"will not load: {problem}")
    if not lookup(cfg, "model.requires_adapter"):
        model = lookup(cfg, "model.id")
        raise field_error("adapter", adapter, f"model={model} takes no adapter (its entry has requires_adapter: "
                          "false): run a LoRA adapter as model=clone_lora adapter=<folder> (on another base, add "
                          "model.source=path model.path=<HF folder>)")


def check_inventory(cfg: dict) -> None:
    """The inventory: a PsychoBench scale (its file read now, so a wrong scale fails before the run), an
    existing file, or a shipped name."""
    from bench.instruments import InventoryError, available_inventories
    from bench.instruments.psychobench_file import load_psychobench

    if lookup(cfg, "inventory.scale") is not ABSENT:  # one scale of PsychoBench's file: read it now, not mid-run
        existing(cfg, "inventory.path", "file", optional=False, what=" (PsychoBench's questionnaires.json)")
        nonempty_text(cfg, "inventory.scale")
        try:
            load_psychobench(lookup(cfg, "inventory.path"), lookup(cfg, "inventory.scale"))
        except InventoryError as err:
            raise field_error("inventory.scale", lookup(cfg, "inventory.scale"), str(err)) from None
        return
    if lookup(cfg, "inventory.path") is not None:
        existing(cfg, "inventory.path", "file", optional=False, what=" (an inventory or survey file)")
        return
    choice(cfg, "inventory.name", available_inventories())


def check_persona(cfg: dict) -> None:
    """The persona set and the fields its kind reads: corpus settings of text personas, the style of
    demographic ones, the generation settings of backstories."""
    from bench.personas.demographic import STYLES
    from bench.personas.sets import FILE_SET
    from bench.personas.text import KINDS

    nonempty_text(cfg, "persona.set")
    kind = lookup(cfg, "persona.kind")
    if kind is not ABSENT:
        choice(cfg, "persona.kind", KINDS, optional=True)
    if kind in KINDS:
        corpus_path(cfg, "persona.corpus.path")
        number(cfg, "persona.corpus.held_out", 0, 1, high_open=True)
        integer(cfg, "persona.corpus.max_documents", 1, optional=True)
        corpus_fields(cfg, "persona.corpus")
        integer(cfg, "persona.k", 1)
    if lookup(cfg, "persona.ids") is not ABSENT:
        string_list(cfg, "persona.ids", optional=True)
    kind = lookup(cfg, "persona.set")
    if kind == "demographic":
        choice(cfg, "persona.style", STYLES)
    if kind == "backstory":
        integer(cfg, "persona.n", 1)
        number(cfg, "persona.temperature", 0)
        integer(cfg, "persona.max_new_tokens", 1)
    if kind == FILE_SET:
        check_persona_file(cfg)


def check_persona_file(cfg: dict) -> None:
    """`persona=file persona.path=FILE`: its settings, then the file read as the run reads it, every problem of
    every row named at once, and `persona.ids` / `persona.n` applied, so a bad file stops the run here."""
    from bench.personas import PersonaError, build_personas

    existing(cfg, "persona.path", "file", optional=False, what=" (a persona file: .jsonl, .csv or .yaml)")
    present = {k for k in ("n", "seed", "attributes", "sep", "encoding") if lookup(cfg, f"persona.{k}") is not ABSENT}
    if "n" in present:  # a user's own persona config may leave out what it does not use
        integer(cfg, "persona.n", 1, optional=True)
    if "seed" in present:
        seed(cfg, "persona.seed")
    if "attributes" in present:
        string_list(cfg, "persona.attributes", optional=True)
    for field in {"sep", "encoding"} & present:
        nonempty_text(cfg, f"persona.{field}", optional=True)
    table_reading(cfg, "persona.sep", "persona.encoding")
    if lookup(cfg, "persona.ids") not in (None, ABSENT) and lookup(cfg, "persona.n") not in (None, ABSENT):
        raise field_error("persona.n", lookup(cfg, "persona.n"), "persona.ids already names the personas: give "
                          "persona.ids or persona.n, not both")
    try:
        build_personas(cfg, None)  # a file set needs no inventory
    except PersonaError as err:
        path = lookup(cfg, "persona.path")
        raise ConfigError(f"persona.path={cli_value(path)}: {str(err).removeprefix(f'{path}: ')}") from None


def check_population_field(cfg: dict) -> None:
    """The population: a shipped name or the user's file, missing-answer codes only for a table reference,
    its reference data present, and its instrument the run's inventory."""
    from bench.resources import CONF_DIR

    names = sorted(p.stem for p in (CONF_DIR / "population").glob("*.yaml"))
    pop = lookup(cfg, "population")
    if not isinstance(pop, dict):
        raise field_error("population", pop, f"must be one of the population configs: {', '.join(names)}, or "
                                     "population.path=<your population file>")
    if pop.get("missing") is not None:
        missing = pop["missing"]
        if not isinstance(missing, list) or not all(is_num(c) or isinstance(c, str) for c in missing):
            raise field_error("population.missing", missing, "must be a list of answer codes that mean no answer, "
                                                     "e.g. population.missing=[0,99]")
    if pop.get("path") is not None:
        check_population_file(cfg, pop)
        return
    choice(cfg, "population.name", names)
    kind = (pop.get("reference") or {}).get("kind")
    if pop.get("missing") is not None and kind not in ("csv", "sav"):
        raise field_error("population.missing", pop["missing"], f"missing-answer codes apply to a table of answers (a "
                                                        f"reference of kind csv or sav); population={pop['name']} "
                                                        f"{'has kind ' + repr(kind) if kind else 'has no table'}: "
                                                        "use population.path=<your population file>")
    if lookup(cfg, "population.reference.path") not in (None, ABSENT):
        path = str(Path(str(lookup(cfg, "population.reference.path"))).expanduser())
        if path_kind("population.reference.path", path) is None:
            raise field_error("population.reference.path", path, "does not exist (the human reference data of "
                                                          f"population={pop['name']})")
    for field, low in (("sample", 1), ("split_half", 0)):
        if field in pop:
            integer(cfg, f"population.{field}", low)
    if "seed" in pop:
        seed(cfg, "population.seed")
    if "temperature" in pop:
        number(cfg, "population.temperature", 0)
        check_population_temperature(cfg, pop)
    check_population_instrument(cfg, pop)


def check_population_temperature(cfg: dict, pop: dict, where: str = "") -> None:
    """The fidelity section compares the participants at the population's temperature: one the run has."""
    temp, temps = pop.get("temperature"), lookup(cfg, "temperatures")
    if pop.get("name") in ("auto", "none") or not is_num(temp) or float(temp) in [float(t) for t in temps]:
        return
    raise field_error("population.temperature", temp, f"{where}is not one of the run's temperatures={cli_value(temps)}; "
                      "the fidelity section compares the participants at this temperature: add it to temperatures, "
                      "or set population.temperature to one of them")


def check_population_file(cfg: dict, pop: dict) -> None:
    """`population.path=FILE`: the file's fields (every problem at once) and its human data, read now."""
    from bench.errors import BenchError
    from bench.populations.reference import PopulationError, expand_population, load_human, \
        usable_respondents_problem

    existing(cfg, "population.path", "file", optional=False, what=" (a population file: see README 'Your own data')")
    try:
        expanded = expand_population(cfg)["population"]
        if expanded["reference"].get("kind") in ("csv", "sav"):  # a user's table: read it before the model work
            problem = usable_respondents_problem(load_human(expanded), expanded)
            if problem:
                raise PopulationError(problem)
    except BenchError as err:
        raise ConfigError(f"population.path={pop['path']}: {str(err).removeprefix(str(pop['path']) + ': ')}") from None
    check_population_temperature(cfg, expanded, f"(population file {pop['path']}) ")
    check_population_instrument(cfg, expanded)


def check_population_instrument(cfg: dict, pop: dict) -> None:
    """The run's inventory must be the population's instrument (an id or a path), named as it can be chosen."""
    from bench.instruments import InventoryError, load_inventory

    if pop.get("name") in ("auto", "none") or not isinstance(pop.get("instrument"), str):
        return
    inv = lookup(cfg, "inventory")
    try:
        wanted = load_inventory(pop["instrument"]).id
        have = load_inventory(inv.get("path") or inv.get("name")).id
    except InventoryError:  # a bad file or name is reported by its own check, named
        return
    if wanted != have:
        choose = (f"inventory={pop['instrument']}" if wanted == pop["instrument"]
                  else f"inventory=custom inventory.path={pop['instrument']}")
        raise field_error("inventory", inv.get("path") or inv.get("name"),
                  f"population {pop.get('name')} lines up with instrument {wanted!r}, not {have!r}: choose {choose}, "
                  "or another population")
