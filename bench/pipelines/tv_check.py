"""`persona-bench tv-check`: how far is the logprob answer distribution from real sampling?

For the first conditions and items of a run config, compare (a) the label distribution at
temperature T from one forward pass with (b) the empirical distribution of `samples` real
generations at T from the same prompt, parsed like sample mode (unparseable answers are their own
category, which the logprob path cannot produce). Total variation (TV) is reported beside the TV
expected from sampling noise alone, i.e. between (a) and `samples` seeded draws from (a).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.administration.administer import Administrator
from bench.config import freeze, validate
from bench.config.tool_checks import run_part
from bench.administration.distributions import label_mass, tempered
from bench.administration.parse import parse_answer
from bench.hashing import stable_int
from bench.metrics.distances import total_variation
from bench.engines.rendering import PromptRenderer
from bench.engines import engine_for
from bench.pipelines.run import prepare, run_dir_for
from bench.results.atomic import atomic_write_json


def noise_tv(p: np.ndarray, n: int, seed: int, trials: int = 200) -> float:
    """Mean TV between p and the empirical distribution of n draws from p."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, p / p.sum(), size=trials)
    return float(np.mean([total_variation(p, c / n) for c in counts]))


def tv_check(cfg: dict) -> pd.DataFrame:
    """`cfg` is the tv_check config: the run config plus its `tv_check` section, split off here so the
    run config it checks (and names its folder by) holds no tool keys."""
    cfg = validate("tv_check", cfg)  # frozen from here on
    opts = cfg["tv_check"]
    temp, n = float(opts["temperature"]), int(opts["samples"])
    # the run config it checks: validated with the tool's (check_tv_check), fixed to one logprob condition
    cfg = freeze({**run_part(cfg, "tv_check"), "temperatures": [temp], "repetitions": 1, "administration": "single"},
                 "config")
    inventory, plan, spec = prepare(cfg)
    with engine_for(cfg, spec) as engine:
        renderer = PromptRenderer.from_config(engine.tokenizer, cfg["prompt"])
        admin = Administrator(plan, renderer, "logprob", int(cfg["batch_size"]))
        keys = [(c, i) for c in range(min(int(opts["conditions"]), len(admin.conditions)))
                for i in range(len(plan.items))]
        rendered = [admin.render_single(c, i) for c, i in keys]
        logp = admin.label_logprobs(engine, [r[2] for r in rendered], [i for _, i in keys])
        rows = []
        for (c, i), (perm, _, ids), lp in zip(keys, rendered, logp):
            p = tempered(lp, temp)
            seeds = [stable_int(cfg["seed"], "tv", c, i, k) for k in range(n)]
            texts = []
            for s in range(0, n, int(cfg["batch_size"])):
                chunk = seeds[s:s + int(cfg["batch_size"])]
                texts += engine.generate([ids] * len(chunk), temp, int(cfg["max_new_tokens"]), chunk)
            labels = [inventory.scale_of(plan.items[i]).labels[k] for k in perm]
            positions = [parse_answer(t, labels).position for t in texts]
            counts = np.zeros(len(p) + 1)
            for pos in positions:
                counts[(pos - 1) if pos else len(p)] += 1
            q = counts / n
            rows.append({
                "condition": "|".join(admin.conditions[c][0].condition), "item_id": plan.items[i].id,
                "label_mass": float(label_mass(lp)), "tv": total_variation(np.append(p, 0.0), q),
                "tv_noise": noise_tv(p, n, stable_int(cfg["seed"], "noise", c, i)),
                "invalid_share": float(q[-1]), "logprob_argmax": int(np.argmax(p)) + 1,
                "sampled_mode": int(np.argmax(q[:-1])) + 1 if q[:-1].any() else None,
            })
    table = pd.DataFrame(rows)
    base = run_dir_for(cfg, plan.personas_sha256())
    out = base.with_name(base.name + f"-tv-T{temp:g}-n{n}")
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "tv_check.csv", index=False)
    atomic_write_json(out / "tv_check.json", {
        "temperature": temp, "samples": n, "n_prompts": len(table),
        "mean_tv": float(table["tv"].mean()), "mean_tv_noise": float(table["tv_noise"].mean()),
        "mean_invalid_share": float(table["invalid_share"].mean()), "rows": rows,
    })
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"\nmean TV {table['tv'].mean():.3f} vs {table['tv_noise'].mean():.3f} expected from sampling noise "
          f"alone ({n} samples at T={temp:g}); written to {out}")
    return table
