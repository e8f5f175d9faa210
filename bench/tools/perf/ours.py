"""persona-bench's own timing paths on the transformers engine: (c) the logprob path with each of its
prefix-cache variants, and (a) per-item sampled generation as PsychoBench-style loops do it."""

from __future__ import annotations

import os
import time

from bench.tools.perf.timing import MODE_NAMES, PathResult, PeakRSS, recorded, run_once

MODES = {  # (c) variants: (prefix_reuse, prefix_cache)
    "kept": (True, None), "batch": (True, 0), "plain": (False, 0)}


def path_logprob(admin, engine, mode: str = "kept") -> tuple[PathResult, object, dict]:
    """(c) persona-bench's own path, writing its parquet parts like a run does. Returns its responses
    and the label log-probs it computed per prompt (token ids -> row)."""
    import pandas as pd

    from bench.engines.transformers_engine import PREFIX_CACHE

    reuse, keep = MODES[mode]
    engine.reset()
    engine.prefix_reuse = reuse
    engine.prefix_cache = PREFIX_CACHE if keep is None else keep
    load = os.getloadavg()[0]
    with recorded(engine) as record, PeakRSS() as mem:
        seconds, responses = run_once(admin, engine)
    counters = {**engine.counters, "engine_seconds": record.seconds}
    return (PathResult(MODE_NAMES[mode], len(record.logp), len(responses), seconds, mem.peak, counters["tokens"],
                       counters["padding"], load,
                       f"{len(admin.units())} units of up to {admin.batch_size} prompts, {counters['calls']} engine calls"
                       f"; kept prefix served {counters['prefix_hits']}, computed {counters['prefix_misses']}; "
                       f"{record.seconds:.1f} s in the engine",
                       counters), pd.DataFrame(responses), record.logp)


def path_sampled(admin, engine, sample: int) -> PathResult:
    """(a) One generate per administration (participant x item), unbatched, as PsychoBench-style loops do."""
    from bench.administration.parse import parse_answer
    from bench.hashing import stable_int

    engine.prefix_reuse = False
    jobs = [(p, i) for p in admin.plan.participants for i in range(len(admin.plan.items))]
    step = max(1, len(jobs) // sample)
    chosen = jobs[::step][:sample]  # spread over personas, temperatures and items
    condition_index = {g[0].condition: c for c, g in enumerate(admin.conditions)}
    valid = 0
    load = os.getloadavg()[0]
    with PeakRSS() as mem:
        start = time.perf_counter()
        for p, i in chosen:
            perm, _, ids = admin.render_single(condition_index[p.condition], i)
            text = engine.generate([ids], p.temperature, admin.max_new_tokens,
                                   [stable_int(p.seed, admin.plan.items[i].id)])[0]
            valid += parse_answer(text, [admin.plan.inventory.scale.labels[c] for c in perm]).position is not None
        seconds = time.perf_counter() - start
    engine.prefix_reuse = True
    return PathResult(MODE_NAMES["sampled"], len(chosen), len(chosen), seconds, mem.peak, load=load,
                      note=f"timed on {len(chosen)} of {len(jobs)} administrations; {valid} parsed as valid",
                      extra={"total_design": len(jobs)})
