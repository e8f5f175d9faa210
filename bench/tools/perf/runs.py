"""The benchmark's runs: each design's timing paths interleaved and repeated (other work on a shared machine
slows whichever runs at the time), conversation mode kept vs not, and the designs again on vLLM."""

from __future__ import annotations

from bench.tools.perf.designs import (DESIGNS, build, conversation_config, design_config, design_minimum,
                                      distinct_prompts, minimum_tokens)
from bench.tools.perf.ours import path_logprob, path_sampled
from bench.tools.perf.peer import path_lmeval
from bench.tools.perf.report import conversation_lines, sampled_note
from bench.tools.perf.timing import PathResult, agreement
from bench.tools.perf.vllm_path import path_vllm


def design_items(args) -> list[tuple[str, int | None]]:
    """The chosen designs with the items each is cut to (--items-<name>)."""
    return [(n, getattr(args, f"items_{n}")) for n in args.designs]


def run_design(name: str, admin, engine, args, peer_python: str | None, scale: str) -> dict:
    """One design's (c) variants and lm-eval, interleaved and repeated; their probabilities compared."""
    d = {"label": DESIGNS[name][0], "scale": scale, "minimum": design_minimum(admin), "runs": {}, "agreement": {}}
    modes = ["kept", "batch", "plain"] + (["lm-eval"] if peer_python else [])
    logps = {}
    for rep in range(args.repeats):
        # The ratio that matters (kept prefixes vs lm-eval) is repeated; the other (c) variants, which
        # only show where the gain comes from, run in the first repetition.
        order = modes if rep == 0 else [m for m in ("lm-eval", "kept") if m in modes]
        order = order if rep % 2 == 0 else order[::-1]
        for mode in order:
            print(f"  [{name} rep {rep + 1}] {mode} ...", flush=True)
            if mode == "lm-eval":
                res, logp = path_lmeval(admin, engine.spec, peer_python, args.threads)
            else:
                res, _, logp = path_logprob(admin, engine, mode)
            print(f"    {res.prompts_per_s:.2f} prompts/s, {res.tokens} tokens", flush=True)
            d["runs"].setdefault(mode, []).append(res)
            logps.setdefault(mode, logp)
    d["runs"] = {m: d["runs"][m] for m in modes}
    if "lm-eval" in logps:
        d["agreement"]["lm-eval vs (c)"] = agreement(logps["kept"], logps["lm-eval"])
    d["agreement"]["(c) kept prefixes vs plain batch"] = agreement(logps["plain"], logps["kept"])
    d["agreement"]["(c) per-batch prefix vs plain batch"] = agreement(logps["plain"], logps["batch"])
    d["logp"] = logps["kept"]
    return d


def run_conversation(admin, engine, repeats: int) -> dict:
    """Conversation mode with each conversation's cache kept from item to item vs not (the kept-prefix path
    of before), interleaved; tokens against the trie bound of every prompt the design showed."""
    from bench.engines.transformers_engine import ROW_CACHE_MB

    runs: dict[str, list[PathResult]] = {}
    logps: dict[str, dict] = {}
    for rep in range(repeats):
        for rows in ((True, False) if rep % 2 == 0 else (False, True)):
            engine.row_cache_mb = ROW_CACHE_MB if rows else 0
            res, _, logp = path_logprob(admin, engine, "kept")
            c = res.extra
            res.name = "conversations kept item to item" if rows else "kept prefixes only (before)"
            res.note += f"; rows started from their kept conversation {c['row_hits']}, cold {c['row_misses']}"
            print(f"  [conversation rep {rep + 1}] rows {'kept' if rows else 'not kept'}: "
                  f"{res.prompts_per_s:.2f} prompts/s, {res.tokens} tokens", flush=True)
            runs.setdefault("rows" if rows else "before", []).append(res)
            logps.setdefault("rows" if rows else "before", logp)
    engine.row_cache_mb = ROW_CACHE_MB
    return {"runs": runs, "minimum": minimum_tokens([[list(k)] for k in logps["before"]]),
            "agreement": agreement(logps["before"], logps["rows"])}


def conversation(engine, args, machine_line: str) -> list[str]:
    """The conversation-mode comparison at the scale asked for, as the report's lines."""
    admin = build(conversation_config(args.conversation_items, args.batch_size, args.personas), engine.name)
    participants = len(admin.plan.participants)
    scale = (f"scaled to {len(admin.plan.items)} items x {participants} participants, batch size "
             f"{args.batch_size}, {args.repeats} interleaved repetitions; {machine_line}")
    print(f"conversation: {scale}", flush=True)
    return conversation_lines(run_conversation(admin, engine, args.repeats), scale)


def run_designs(engine, args, peer_python: str | None) -> dict:
    """Every chosen design on the transformers engine (and lm-eval with a peer); (a) on the seed design."""
    designs = {}
    for name, items in design_items(args):
        admin = build(design_config(name, items, args.batch_size, args.personas), engine.name)
        plan = admin.plan
        scale = (f"Scaled: {len({p.persona.id for p in plan.participants})} personas x "
                 f"{len({p.template.id for p in plan.participants})} template(s) x "
                 f"{len({p.option_order for p in plan.participants})} order(s) x {len(plan.items)} item(s) = "
                 f"{len(admin.conditions) * len(plan.items)} prompts, fanned out to "
                 f"{len(plan.participants) * len(plan.items)} answers; batch size {args.batch_size}")
        print(f"{name}: {scale}", flush=True)
        warm = [p[2] for p in distinct_prompts(admin)[:2]]
        engine.label_logprobs(warm, admin.label_ids(0))  # first calls pay one-off set-up costs
        d = run_design(name, admin, engine, args, peer_python, scale)
        if name == "seed" and args.sample_admins:
            print("  (a) per-item sampled generation ...", flush=True)
            a = path_sampled(admin, engine, args.sample_admins)
            d["notes"] = [sampled_note(a, d["runs"]["kept"][0], admin.max_new_tokens)]
        designs[name] = d
    return designs


def run_vllm(designs: dict, args) -> str:
    """The designs again on vLLM (a child process), added to each design's runs and agreement; why it
    failed, or ""."""
    print("vLLM, all designs (child process) ...", flush=True)
    got, why = path_vllm(design_items(args), args.batch_size, args.personas, args.threads, args.vllm_block_size)
    for name, (res, logp) in got.items():
        designs[name]["runs"]["vllm"] = [res]
        designs[name]["agreement"]["vLLM vs (c) transformers"] = agreement(designs[name]["logp"], logp)
    return why
