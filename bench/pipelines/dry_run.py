"""`persona-bench plan`: what a run would do, counted before committing hours of compute to it.

The counts follow the Administrator's own split of the plan into units and engine calls (logprob mode:
one forward pass per (condition, item), shared by every temperature and repetition; conversation mode:
per participant and item, shared where earlier answers are identical; sample mode: one generation per
participant and item). Prompts are rendered with the model's tokenizer only. The wall time comes from
a few batches run on the real engine, scaled by prompt tokens (logprob) or generations (sample).
Nothing is written into results_dir.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.administration import Administrator, PromptRenderer
from bench.engines import open_engine
from bench.personas import Persona, select_personas
from bench.pipelines.run import RunError, by_author, prepare
from bench.results.provenance import collect, row_columns
from bench.userfiles import read_jsonl

FILLER = "1"  # an earlier answer in conversation mode: in logprob mode it is the option digit, one token


@dataclass
class Workload:
    """What a run of one config sends to the engine; (low, high) where earlier answers decide it."""

    participants: int
    conditions: int
    items: int
    items_total: int
    prompts: int  # distinct prompts rendered
    units: int
    passes: tuple[int, int]
    batches: int
    tokens: tuple[int, int]
    longest: int
    rows: int
    factors: dict = field(default_factory=dict)


@dataclass
class Timing:
    """The few units a dry run ran on the real engine: the measured basis that scales to the whole plan."""
    load_s: float
    batches: list[tuple[float, int, int]]  # (seconds, prompt tokens, prompts) per timed unit
    basis: str  # "token" (logprob) or "generation" (sample)

    def rates(self) -> list[float]:
        """Seconds per prompt token (logprob) or per generation (sample) of each timed unit: their spread
        gives the estimate's range."""
        return [s / max(1, t if self.basis == "token" else n) for s, t, n in self.batches]

    def estimate(self, work: Workload, scoring: str) -> tuple[float, float, float]:
        """(estimate, low, high) seconds of administration for the whole plan."""
        lo_total, hi_total = work.tokens if self.basis == "token" else work.passes
        spent = sum(s for s, _, _ in self.batches)
        basis = sum(t if self.basis == "token" else n for _, t, n in self.batches)
        rates = self.rates()
        return spent / max(1, basis) * hi_total, min(rates) * lo_total, max(rates) * hi_total


class CallLog:
    """The real engine, with a count of the prompts and tokens the timed units sent to it."""

    def __init__(self, engine):
        self.engine, self.prompts, self.tokens = engine, 0, 0

    def _count(self, prompts) -> None:
        self.prompts += len(prompts)
        self.tokens += sum(len(p) for p in prompts)

    def label_logprobs(self, prompts, label_ids, **hints):
        """The engine's label_logprobs, with what was sent counted."""
        self._count(prompts)
        return self.engine.label_logprobs(prompts, label_ids, **hints)

    def generate(self, prompts, temperature, max_new_tokens, seeds):
        """The engine's generate, with what was sent counted."""
        self._count(prompts)
        return self.engine.generate(prompts, temperature, max_new_tokens, seeds)


def plan_personas(cfg: dict) -> tuple[tuple[Persona, ...] | None, str | None]:
    """Backstories are written by the model into results_dir: a dry run reads them if they exist, else
    plans with placeholders as long as the longest story could be. Other sets are built as a run builds them."""
    if cfg["persona"].get("set") != "backstory":
        return None, None
    from bench.personas.backstory import backstory_dir

    p = cfg["persona"]
    n, path = int(p["n"]), backstory_dir(cfg) / "backstories.jsonl"
    stories = read_jsonl(path) if path.is_file() else []
    if len(stories) >= n:
        personas = tuple(Persona(s["id"], "", s["text"]) for s in stories[:n])
        note = None
    else:
        filler = " ".join(["word"] * int(p["max_new_tokens"]))
        personas = tuple(Persona(f"backstory-{k:04d}", "", filler) for k in range(n))
        note = (f"{len(stories)} of {n} backstories written so far: prompts are measured with placeholders of "
                f"persona.max_new_tokens={p['max_new_tokens']} words; the run first writes the missing "
                f"{n - len(stories)} (one generation each), and asks the population's demographic survey too")
    return select_personas(personas, p.get("ids"), "backstory"), note


def workload(admin: Administrator) -> Workload:
    """Count what the plan sends to the engine by the Administrator's own units and calls, rendering prompts
    with the tokenizer only; conversation mode gives (low, high) where earlier answers decide sharing."""
    plan, b = admin.plan, admin.batch_size
    units = admin.units()
    n_items = len(plan.items)
    options = [len(plan.inventory.scale_of(it).values) for it in plan.items]
    passes_lo = passes_hi = tokens_lo = tokens_hi = batches = longest = 0

    def calls_per_temperature(people) -> int:
        return sum(math.ceil(n / b) for n in Counter(p.temperature for p in people).values())

    if plan.administration == "single":
        lengths = {(c, i): len(admin.render_single(c, i)[2]) for c in range(len(admin.conditions))
                   for i in range(n_items)}
        longest = max(lengths.values(), default=0)
        prompts = len(lengths)
        for unit in units:
            if admin.scoring == "logprob":
                passes_lo += len(unit.keys)
                tokens_lo += sum(lengths[k] for k in unit.keys)
                batches += len({options[i] for _, i in unit.keys})
            else:
                passes_lo += sum(len(admin.conditions[c]) for c, _ in unit.keys)
                tokens_lo += sum(lengths[(c, i)] * len(admin.conditions[c]) for c, i in unit.keys)
                batches += calls_per_temperature([p for c, _ in unit.keys for p in admin.conditions[c]])
        passes_hi, tokens_hi = passes_lo, tokens_lo
    else:
        # A participant's prompt is its condition's questions plus its own earlier answers; rendered with
        # the same filler answers, prompts that differ here differ in the run whatever the answers are.
        condition_of = {p.id: c for c, group in enumerate(admin.conditions) for p in group}
        shape: dict[tuple[int, int], tuple[int, int]] = {}  # (condition, item) -> (length, hash of the ids)
        for c, group in enumerate(admin.conditions):
            for i in range(n_items):
                ids = admin.render_conversation(group[0], i, [FILLER] * i)[2]
                shape[(c, i)] = (len(ids), hash(tuple(ids)))
        longest = max((n for n, _ in shape.values()), default=0)
        prompts = len(plan.participants) * n_items
        for unit in units:
            i = unit.item_index
            people = [plan.participants[k] for k in unit.keys]
            if admin.scoring == "logprob":
                distinct = {shape[(condition_of[p.id], i)] for p in people}
                passes_lo += len(distinct)
                tokens_lo += sum(n for n, _ in distinct)
                if i == 0:  # no earlier answers yet: the distinct prompts are exactly the passes
                    passes_hi += len(distinct)
                    tokens_hi += sum(n for n, _ in distinct)
                else:  # at T = 0 identical questions give identical answers; at T > 0 they may differ
                    greedy = {shape[(condition_of[p.id], i)] for p in people if p.temperature == 0}
                    hot = [shape[(condition_of[p.id], i)][0] for p in people if p.temperature > 0]
                    passes_hi += len(greedy) + len(hot)
                    tokens_hi += sum(n for n, _ in greedy) + sum(hot)
                batches += 1 if people else 0
            else:
                passes_lo += len(people)
                tokens_lo += sum(shape[(condition_of[p.id], i)][0] for p in people)
                batches += calls_per_temperature(people)
        if admin.scoring == "sample":
            passes_hi, tokens_hi = passes_lo, tokens_lo
    factors = {k: len({getattr(p, a) if a != "persona" else p.persona.id for p in plan.participants})
               for k, a in (("persona", "persona"), ("template", "template"), ("option order", "option_order"),
                            ("temperature", "temperature"), ("repetition", "repetition"))}
    return Workload(participants=len(plan.participants), conditions=len(admin.conditions), items=n_items,
                    items_total=len(plan.inventory.items), prompts=prompts, units=len(units),
                    passes=(passes_lo, passes_hi), batches=batches, tokens=(tokens_lo, tokens_hi), longest=longest,
                    rows=len(plan.participants) * n_items, factors=factors)


def spread(seq: list, n: int) -> list:
    """n entries spread over seq, first and last included (conversation prompts grow item by item)."""
    if n >= len(seq):
        return list(seq)
    if n == 1:
        return [seq[0]]
    return [seq[round(k * (len(seq) - 1) / (n - 1))] for k in range(n)]


def time_batches(admin: Administrator, cfg: dict, spec, n: int) -> Timing:
    """Run n units on the real engine (after one tiny warm-up call) and time each; nothing is stored."""
    started = time.perf_counter()
    engine = open_engine(cfg, spec)
    load_s = time.perf_counter() - started
    log = CallLog(engine)
    samples = []
    try:
        units = spread(admin.units(), n)
        first = admin.render_single(0, 0)[2] if admin.plan.administration == "single" else \
            admin.render_conversation(admin.plan.participants[0], 0, [])[2]
        if admin.scoring == "logprob":
            engine.label_logprobs([first, first], admin.label_ids(0))  # the batched path, shared prefix
        else:
            engine.generate([first], 0.0, 1, [0])
        for unit in units:
            history = None
            if unit.item_index is not None:
                history = {admin.plan.participants[k].id: [FILLER] * unit.item_index for k in unit.keys}
            prompts, tokens = log.prompts, log.tokens
            t0 = time.perf_counter()
            admin.run_unit(log, unit, history)
            samples.append((time.perf_counter() - t0, log.tokens - tokens, log.prompts - prompts))
    finally:
        engine.close()
    return Timing(load_s, samples, "token" if admin.scoring == "logprob" else "generation")


def dry_run(cfg: dict, n_time: int = 2) -> dict:
    """The workload of one run config, and (n_time > 0) a wall-time estimate from n_time timed batches."""
    from transformers import AutoTokenizer

    personas, note = plan_personas(cfg)
    inventory, plan, spec = prepare(cfg, personas)
    renderer = PromptRenderer.from_config(AutoTokenizer.from_pretrained(spec.path), cfg["prompt"])
    prov = collect(cfg, spec, inventory, cfg["engine"]["name"], renderer.format)  # rows as the run builds them, for the timing
    admin = Administrator(plan, renderer, cfg["scoring"], int(cfg["batch_size"]), int(cfg["max_new_tokens"]),
                          row_columns(prov, cfg), group_by_persona=by_author(cfg))
    work = workload(admin)
    limit = spec.max_model_len - int(cfg["max_new_tokens"])
    problem = None
    if work.longest > limit:
        problem = (f"model '{spec.id}': the longest prompt of {inventory.id} ({cfg['administration']}) is "
                   f"{work.longest} tokens, over model.max_model_len={spec.max_model_len} less max_new_tokens; "
                   "the run would stop before any model work")
    timing = time_batches(admin, cfg, spec, n_time) if n_time > 0 and problem is None and work.units else None
    return {"cfg": cfg, "spec": spec, "inventory": inventory, "work": work, "timing": timing, "note": note,
            "problem": problem}


def seconds(s: float) -> str:
    """A duration as a reader takes it in: seconds under 90 s, minutes under 1.5 h, else hours."""
    if s < 90:
        return f"{s:.1f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def span(pair: tuple[int, int]) -> str:
    """A (low, high) count as one number when both agree, else as a range."""
    lo, hi = pair
    return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"


def report_text(result: dict) -> str:
    """What `persona-bench plan` prints for one job: the counts, the timed wall-time estimate, and any note
    or problem that would stop the run."""
    cfg, work, spec, timing = result["cfg"], result["work"], result["spec"], result["timing"]
    scoring, mode = cfg["scoring"], cfg["administration"]
    f = work.factors

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if scoring == "logprob" and mode == "single":
        passes_how = "one per (condition, item), shared by every temperature and repetition"
    elif scoring == "logprob":
        passes_how = ("one per participant and item, shared where earlier answers agree (exact at T = 0 "
                      "and for the first item; a range where sampled answers decide)")
    else:
        passes_how = f"one generation (up to max_new_tokens={cfg['max_new_tokens']}) per participant and item"
    rows = [
        ("participants", f"{work.participants:,}", " x ".join(plural(f[k], k) for k in f)),
        ("conditions", f"{work.conditions:,}", "persona x template x option order"),
        ("items", f"{work.items:,}", f"of {work.items_total}" + (f" (max_items={cfg['max_items']})"
                                                                  if cfg.get("max_items") is not None else "")),
        ("prompts", f"{work.prompts:,}", "distinct prompts rendered" if mode == "single" else
         "participant x item prompts rendered"),
        ("units", f"{work.units:,}", f"parts of the run folder (batch_size={cfg['batch_size']})"),
        ("forward passes", span(work.passes), passes_how),
        ("batches", f"{work.batches:,}", "engine calls"),
        ("prompt tokens", span(work.tokens), f"in all; longest {work.longest:,} (limit {spec.max_model_len:,} "
                                             f"less max_new_tokens {cfg['max_new_tokens']})"
         + ("; earlier answers counted as one token, generated ones are longer" if mode == "conversation"
            and scoring == "sample" else "")),
        ("response rows", f"{work.rows:,}", "participant x item"),
    ]
    head = (f"plan: {spec.id} x {result['inventory'].id} x persona {cfg['persona'].get('set')} ({scoring} scoring, "
            f"{mode} administration, engine {cfg['engine']['name']})")
    width = max(len(r[1]) for r in rows)
    lines = [head] + [f"  {name:<15} {value:>{width}}  {what}" for name, value, what in rows]
    if timing is not None:
        est, lo, hi = timing.estimate(work, scoring)
        per = "per 1,000 prompt tokens" if timing.basis == "token" else "per generation"
        scale = 1000 if timing.basis == "token" else 1
        rates = timing.rates()
        lines.append(f"  {'wall time':<15} {'~' + seconds(est):>{width}}  administering ({seconds(lo)} to {seconds(hi)}: "
                     f"the fastest and slowest of {len(timing.batches)} timed batch"
                     f"{'es' if len(timing.batches) != 1 else ''}, {min(rates) * scale:.3g}-{max(rates) * scale:.3g} s "
                     f"{per}), plus {seconds(timing.load_s)} model load")
    else:
        lines.append(f"  {'wall time':<15} {'-':>{width}}  not timed")
    if result["note"]:
        lines.append(f"  note: {result['note']}")
    if result["problem"]:
        lines.append(f"  PROBLEM: {result['problem']}")
    return "\n".join(lines)


def plan_command(configs: list[dict], n_time: int) -> list[str]:
    """Print the plan of every job; returns the problems that would stop a run."""
    problems = []
    for k, cfg in enumerate(configs, 1):
        result = dry_run(cfg, n_time)
        if len(configs) > 1:
            print(f"[job {k} of {len(configs)}]")
        print(report_text(result), flush=True)
        if result["problem"]:
            problems.append(result["problem"])
    return problems


__all__ = ["RunError", "Timing", "Workload", "dry_run", "plan_command", "report_text", "workload"]
