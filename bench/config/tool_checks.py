"""The checks of each tool's config: its own section, and the run config it passes on (`run_checks`)."""

from __future__ import annotations

from pathlib import Path

from bench.config.rules import ABSENT, boolean, choice, corpus_fields, corpus_path, existing, field_error, \
    folder_name, integer, lookup, nonempty_text, number, output_folder, path_kind, seed, string_list, table_reading
from bench.config.run_checks import check_model, check_run
from bench.errors import ConfigError, cli_value


def run_part(cfg: dict, section: str) -> dict:
    """The run config a tool passes on: everything but its own section. A tool's runs are whole: splitting one
    over processes (workers, worker) is `persona-bench run`'s alone."""
    whole_runs(cfg)
    return {k: v for k, v in cfg.items() if k != section}


def whole_runs(cfg: dict) -> None:
    """Refuse workers/worker in a tool's config: its runs are read back whole right after they are made."""
    for key in ("workers", "worker"):
        if cfg.get(key) is not None:
            raise field_error(key, cfg[key], "splits one run over processes, a setting of `persona-bench run` "
                              "only; a tool reads its runs back whole")


def check_fidelity_table(cfg: dict) -> None:
    """`persona-bench fidelity-table`: the run config it passes on, and methods that are known
    conditioning methods."""
    from bench.personas import CONDITIONING_METHODS

    check_run(run_part(cfg, "fidelity_table"))
    string_list(cfg, "fidelity_table.methods", optional=True, options=list(CONDITIONING_METHODS))


def check_tv_check(cfg: dict) -> None:
    """`persona-bench tv-check`: the run config it passes on, and positive sample and condition counts and
    a temperature >= 0."""
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
        raise field_error("validity.inventories", specs, "give two or more inventories, e.g. [bfi, ipip120]")
    ids = {}
    for spec in specs:
        node = inventory_node(spec)
        if node["path"] is None and spec not in available_inventories():
            raise field_error("validity.inventories", specs, f"{spec} is not a shipped inventory ({', '.join(available_inventories())}) "
                                                     "nor a path to an inventory file")
        try:
            inv = inventory_from_config(node)
        except InventoryError as err:
            raise field_error("validity.inventories", specs, str(err)) from None
        if inv.kind == "survey" or inv.scoring == "none":
            raise field_error("validity.inventories", specs, f"{spec} is a survey: it has no trait scores to correlate")
        ids[spec] = ids[inv.id] = {t for t, _ in inv.traits}
    tmap = lookup(cfg, "validity.trait_map")
    if not isinstance(tmap, dict):
        raise field_error("validity.trait_map", tmap, "must be a mapping {inventory: {its trait: common name}}")
    for key, mapping in tmap.items():
        field = f"validity.trait_map.{key}"
        if key != "behaviour" and key not in ids:
            raise field_error(field, mapping, f"{key} is not one of validity.inventories ({', '.join(specs)}) nor 'behaviour'")
        if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                    for k, v in mapping.items()):
            raise field_error(field, mapping, "must map trait codes to non-empty common names")
        if key != "behaviour":
            unknown = sorted(set(mapping) - ids[key])
            if unknown:
                raise field_error(field, mapping, f"{', '.join(unknown)}: not a trait of {key} ({', '.join(sorted(ids[key]))})")
            names = [mapping.get(t, t) for t in ids[key]]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise field_error(field, mapping, f"{', '.join(twice)}: two traits of {key} mapped to one name")
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
        raise field_error("norms_table.inventories", None, "give instruments with norms (e.g. [bfi]) or norms_table.scales")
    for spec in specs:
        node = inventory_node(spec)
        if node["path"] is None and spec not in available_inventories():
            raise field_error("norms_table.inventories", specs, f"{spec} is not a shipped inventory nor a file")
        try:
            inv = inventory_from_config(node)
        except InventoryError as err:
            raise field_error("norms_table.inventories", specs, str(err)) from None
        if not inv.norms and spec != "ipip25":  # ipip25's norms come from psych::bfi at run time
            raise field_error("norms_table.inventories", specs, f"{spec} has no norms (an inventory file's 'norms' field)")
    if scales:
        existing(cfg, "norms_table.path", "file", optional=False, what=" (PsychoBench's questionnaires.json)")
        for scale in scales:
            try:
                load_psychobench(lookup(cfg, "norms_table.path"), scale)
            except InventoryError as err:
                raise field_error("norms_table.scales", scales, str(err)) from None


BEHAVIOUR_KEYS = ("behaviour", "rater", "rater2")  # what `persona-bench behaviour` adds to the run config


def behaviour_run_part(cfg: dict) -> dict:
    """The run config of a behaviour config: the plan its participants come from."""
    whole_runs(cfg)
    return {k: v for k, v in cfg.items() if k not in BEHAVIOUR_KEYS}


def check_behaviour(cfg: dict) -> None:
    """`persona-bench behaviour`: the run config, raters that are plain models (no adapter), the writing
    prompts and rating templates, and a self-report that is 'run' or a finished run folder."""
    from bench.behaviour.rating import PLACEHOLDERS, RATING_ORDERS, rating_template
    from bench.behaviour.texts import writing_prompts

    check_run(behaviour_run_part(cfg))
    for key in ("rater", "rater2"):
        if lookup(cfg, key) is not None:
            check_model(cfg, key)
            if lookup(cfg, f"{key}.requires_adapter"):
                raise field_error(f"{key}.id", lookup(cfg, f"{key}.id"), "a rater is a plain model (an adapter model "
                                                              "cannot rate: its adapter is the run's)")
    writing_prompts(lookup(cfg, "behaviour.prompts"))
    integer(cfg, "behaviour.copies", 1)
    integer(cfg, "behaviour.max_new_tokens", 1)
    number(cfg, "behaviour.temperature", 0, optional=True)
    string_list(cfg, "behaviour.rating_orders", options=RATING_ORDERS)
    templates = lookup(cfg, "behaviour.rating_templates")
    if not isinstance(templates, dict):
        raise field_error("behaviour.rating_templates", templates, "must map likert and bipolar to a template")
    for kind in PLACEHOLDERS:
        rating_template(templates, kind)
    report = lookup(cfg, "behaviour.self_report")
    if report != "run":
        if not isinstance(report, str) or not report.strip():
            raise field_error("behaviour.self_report", report, "must be 'run' or the path of a run folder")
        if path_kind("behaviour.self_report", report) != "folder" \
                or not (Path(report).expanduser() / "scores.parquet").is_file():
            raise field_error("behaviour.self_report", report, "is not a finished run folder (no scores.parquet); "
                                                       "give a run folder of the same plan, or 'run'")
    integer(cfg, "behaviour.min_n", 2)
    boolean(cfg, "behaviour.publish_texts")


def compare_models(cfg: dict) -> list[tuple[str, dict]]:
    """(label, model node) of each entry of compare.models: a model entry's name, or {model: <entry>,
    label: <name>, <model field>: <value>, ...}; each node checked as `model` is."""
    from bench.config.load import model_entries, model_node

    specs = lookup(cfg, "compare.models")
    if not isinstance(specs, list):
        raise field_error("compare.models", specs, "must be a list of model entries, e.g. [smollm2, gemma3_270m]")
    known = model_entries()
    out = []
    for i, spec in enumerate(specs):
        field = f"compare.models[{i}]"
        settings = dict(spec) if isinstance(spec, dict) else {}
        entry = settings.pop("model", None) if isinstance(spec, dict) else spec
        label = settings.pop("label", None) or entry
        if not isinstance(entry, str) or entry not in known:
            why = ("names no model entry: give {model: <entry>, ...}" if isinstance(spec, dict) and entry is None
                   else f"{cli_value(entry)} is not a model entry")
            raise field_error(field, spec, f"{why}; model entries: {', '.join(known)}")
        if not isinstance(label, str) or not label.strip():
            raise field_error(f"{field}.label", label, "must be a non-empty name")
        try:
            node = model_node(entry, settings)
            check_model({"model": node}, "model")
        except ConfigError as err:
            raise ConfigError(f"{field} ({entry}): {err}") from None
        if node.get("requires_adapter"):
            raise field_error(field, spec, "a model that needs an adapter runs with the run's one adapter; compare clones "
                                   "as run folders (compare.runs)")
        out.append((label, node))
    labels = [label for label, _ in out]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise field_error("compare.models", specs, f"{', '.join(twice)} named twice: give each its own label, e.g. "
                                           f"{{model: {twice[0]}, label: {twice[0]}_2, ...}}")
    return out


def check_compare(cfg: dict) -> None:
    """Two or more models and finished run folders in all; each model entry known, its settings typed."""
    from bench.results import layout

    check_run(run_part(cfg, "compare"))
    models = compare_models(cfg)
    runs = lookup(cfg, "compare.runs")
    if runs:
        string_list(cfg, "compare.runs")
        for i, folder in enumerate(runs):
            path, found = Path(folder).expanduser(), path_kind(f"compare.runs[{i}]", folder)
            if found != "folder":
                raise field_error(f"compare.runs[{i}]", folder, "is not a folder" if found else "does not exist")
            missing = [f for f in (layout.CONFIG, layout.METRICS, layout.SCORES, layout.RESPONSES)
                       if not (path / f).is_file()]
            if missing:
                raise field_error(f"compare.runs[{i}]", folder, f"is not a finished run folder (no {', '.join(missing)})")
    elif not isinstance(runs, list):
        raise field_error("compare.runs", runs, "must be a list of run folders")
    if len(models) + len(runs or []) < 2:
        raise field_error("compare.models", lookup(cfg, "compare.models"), "give two or more models (or run folders with "
                  "compare.runs) to compare, e.g. models=[smollm2,gemma3_270m]")
    number(cfg, "compare.alpha", 0, 1, low_open=True, high_open=True)


def check_clone(cfg: dict) -> None:
    """`persona-bench clone train` and `clone report`: model, corpus, format, LoRA and training settings
    (DP needs format=chat and a privacy target), then the `report` section."""
    from bench.clone.examples import FORMATS
    from bench.engines import engine_names
    from bench.instruments import available_inventories

    check_model(cfg, "model")
    corpus_path(cfg, "corpus.path")
    nonempty_text(cfg, "corpus.text_column")
    number(cfg, "corpus.held_out", 0, 1, high_open=True)
    integer(cfg, "corpus.max_documents", 1, optional=True)
    corpus_fields(cfg, "corpus")
    choice(cfg, "format", FORMATS)
    integer(cfg, "max_length", 1)
    seed(cfg, "seed")
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
    if lookup(cfg, "train.dp.enabled"):
        if lookup(cfg, "format") != "chat":
            raise field_error("format", lookup(cfg, "format"), "differential privacy (train.dp.enabled=true) needs "
                                                     "format=chat: text windows would split a document")
        if lookup(cfg, "train.dp.target_epsilon") is None and lookup(cfg, "train.dp.noise_multiplier") is None:
            raise field_error("train.dp.target_epsilon", None, "set train.dp.target_epsilon or train.dp.noise_multiplier")
    output_folder(cfg, "output_dir", optional=True)
    output_folder(cfg, "results_dir")
    boolean(cfg, "progress")
    check_clone_report(cfg, available_inventories(), engine_names())


def check_clone_report(cfg: dict, inventories, engines) -> None:
    """The `report` section of a clone config: files that exist, inventories and engine by name, known
    arms, harness overrides as key=value, positive counts."""
    from bench.clone.arms import ARMS

    existing(cfg, "report.adapter", "folder", what=" (the clone's adapter folder)")
    existing(cfg, "report.self_report", "file", what=" (the person's own scores)")
    for field in ("report.self_report_sep", "report.self_report_encoding"):
        if lookup(cfg, field) is not ABSENT:
            nonempty_text(cfg, field, optional=True)
    table_reading(cfg, "report.self_report_sep", "report.self_report_encoding")
    for field in ("report.inventory", "report.mbti_inventory"):
        v = lookup(cfg, field)
        if isinstance(v, str) and ("/" in v or v.endswith((".yaml", ".yml"))):
            existing(cfg, field, "file")
        else:
            choice(cfg, field, inventories, optional=field.endswith("mbti_inventory"))
    choice(cfg, "report.engine", sorted(engines))
    string_list(cfg, "report.arms", options=ARMS)
    harness = lookup(cfg, "report.harness")
    if not isinstance(harness, list) or not all(isinstance(h, str) and "=" in h for h in harness):
        raise field_error("report.harness", harness, "must be a list of run overrides key=value")
    for field in ("style_prompts", "style_prefix_words", "style_max_new_tokens", "max_lm_documents", "rag_k",
                  "profile_passages"):
        integer(cfg, f"report.{field}", 1)
    number(cfg, "report.style_temperature", 0)
    folder_name(cfg, "report.run_name")


def check_leaderboard(cfg: dict) -> None:
    """`persona-bench leaderboard`: the run folders, an output folder, a title, and the publish targets."""
    string_list(cfg, "runs")
    output_folder(cfg, "out")
    nonempty_text(cfg, "title")
    boolean(cfg, "plots")
    nonempty_text(cfg, "publish.branch")
    nonempty_text(cfg, "publish.gh_pages_repo", optional=True)
    nonempty_text(cfg, "publish.hf_repo", optional=True)
