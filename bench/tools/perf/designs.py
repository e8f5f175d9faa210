"""The benchmark's designs (run configs scaled to the machine), their Administrator, and the least work a
prefix-reusing engine must do for their prompts."""

from __future__ import annotations

DESIGNS = {  # name: (what it is, config overrides); items are cut with --items-<name>
    "none": ("BFI-44, no persona (the model's default system prompt), 1 template, original order, "
             "T in {0, 0.7, 1}, 5 repetitions",
             ["persona=none", "inventory=bfi", "templates=[describe]", "option_orders=[original]",
              "temperatures=[0.0,0.7,1.0]", "repetitions=5"]),
    "traits": ("BFI-44 x the 10 trait personas, 1 template, original order, T in {0, 0.7, 1}, 5 repetitions",
               ["persona=traits", "inventory=bfi", "templates=[describe]", "option_orders=[original]",
                "temperatures=[0.0,0.7,1.0]", "repetitions=5"]),
    "seed": ("the seed paper's: 16 type personas x the type inventory, T in {0.01, 0.7}, 30 repetitions, "
             "3 templates x 2 option orders",
             ["persona=mbti_types", "inventory=mbti", "templates=null", "option_orders=[original,reversed]",
              "temperatures=[0.01,0.7]", "repetitions=30"]),
}
CONVERSATION = ("BFI-44 in conversation mode (each item asked after the participant's earlier answers), the "
                "trait personas, 1 template, original order, T = 1, 2 repetitions",
                ["administration=conversation", "persona=traits", "inventory=bfi", "templates=[describe]",
                 "option_orders=[original]", "temperatures=[1.0]", "repetitions=2"])


def compose_config(*overrides: str) -> dict:
    """The run config as `python -m bench <overrides>` resolves it."""
    from bench.config.load import compose

    return compose("config", overrides)


def first_personas(cfg: dict, personas: int | None) -> dict:
    """The config with only its first `personas` personas (all when None)."""
    if personas:
        cfg["persona"]["personas"] = cfg["persona"]["personas"][:personas]
    return cfg


def design_config(name: str, items: int | None, batch_size: int, personas: int | None = None) -> dict:
    """A design's run config scaled to this machine: first `items` items, `personas` personas, the batch size
    given."""
    cfg = compose_config(*DESIGNS[name][1], f"batch_size={batch_size}", "progress=false",
                         *([f"max_items={items}"] if items else []))
    return first_personas(cfg, personas)


def conversation_config(items: int, batch_size: int, personas: int | None) -> dict:
    """The conversation-mode design's run config, scaled like design_config."""
    cfg = compose_config(*CONVERSATION[1], f"max_items={items}", f"batch_size={batch_size}", "progress=false")
    return first_personas(cfg, personas)


def build(cfg: dict, engine_name: str):
    """The design's Administrator, its rows labelled as a run on `engine_name` labels them."""
    from transformers import AutoTokenizer

    from bench.administration.administer import Administrator
    from bench.engines.rendering import PromptRenderer
    from bench.pipelines.run import prepare

    inventory, plan, spec = prepare(cfg)
    renderer = PromptRenderer.from_config(AutoTokenizer.from_pretrained(spec.path), cfg["prompt"])
    constants = {"run_config_hash": "", "model_id": spec.id, "model_sha256": spec.sha256, "adapter_sha256": "",
                 "engine": engine_name, "scoring_mode": "logprob", "administration": "single",
                 "inventory_id": inventory.id, "inventory_version": inventory.version, "persona_set": "bench",
                 "seed": int(cfg["seed"]), "env_hash": "", "git_commit": ""}
    return Administrator(plan, renderer, "logprob", int(cfg["batch_size"]), int(cfg["max_new_tokens"]),
                         constants)


def distinct_prompts(admin) -> list[tuple[tuple[int, int], str, list[int]]]:
    """Every (condition, item) prompt of a single-item design: (key, text, token ids)."""
    return [((c, i), *admin.render_single(c, i)[1:]) for c in range(len(admin.conditions))
            for i in range(len(admin.plan.items))]


def minimum_tokens(groups: list[list[list[int]]]) -> dict:
    """The least a prefix-reusing engine must compute for these prompts, grouped by what they share
    (a condition: persona, template, order). `minimum`: each distinct group prefix (the group's longest
    common prefix) once, plus every distinct prompt's own suffix after it. `trie`: every distinct token
    prefix of any prompt once (prompts of different groups that share more, e.g. two option orders up to
    the options, counted once too), the bound no order of work can beat."""
    prefixes, suffix, prompts = set(), 0, set()
    for group in groups:
        distinct = sorted({tuple(p) for p in group})
        if len(distinct) == 1:
            n = len(distinct[0])
        else:
            first, n = distinct[0], min(map(len, distinct))
            for p in distinct[1:]:
                n = next((k for k in range(n) if p[k] != first[k]), n)
        prefixes.add(distinct[0][:n])
        suffix += sum(len(p) - n for p in distinct)
        prompts.update(distinct)
    trie, previous = 0, ()
    for p in sorted(prompts):
        shared = next((k for k, (a, b) in enumerate(zip(p, previous)) if a != b), min(len(p), len(previous)))
        trie += len(p) - shared
        previous = p
    return {"minimum": sum(map(len, prefixes)) + suffix, "trie": trie, "prefixes": len(prefixes),
            "prompt_tokens": sum(map(len, prompts)), "prompts": len(prompts)}


def design_minimum(admin) -> dict:
    """The least tokens a prefix-reusing engine must compute for a single-item design, its prompts grouped by
    condition."""
    by_condition: dict[int, list[list[int]]] = {}
    for (c, _), _, ids in distinct_prompts(admin):
        by_condition.setdefault(c, []).append(ids)
    return minimum_tokens(list(by_condition.values()))
