"""Benchmark: persona-bench's logprob path beside the real peer, lm-evaluation-harness, on the same prompts.

For each design (BFI-44 with no persona, BFI-44 with the 10 trait personas, and the seed paper's 16
type personas x the type inventory, T in {0.01, 0.7}, 30 repetitions, 3 templates x 2 orders; "Open
Models, Closed Minds?", arXiv 2401.07115), scaled to fit the machine, it times on one engine:

(c) persona-bench's logprob path (`Administrator.run`: one last-position pass per distinct prompt,
    fanned out to every temperature and repetition), with each prefix's KV cache kept across batches
    (default), kept for its batch only, and off (the plain batch);
lm-eval, run for real in its own interpreter (`bench/tools/peer_lmeval.py`): its `hf` model scoring the
    same rendered prompts as a multiple-choice task, same model folder, dtype, batch size and threads;
(a) per-item sampled generation, PsychoBench-style, timed on a sample (seed design only).

The paths are interleaved and repeated (other work on a shared machine slows whichever runs at the
time), the option probabilities are checked against lm-eval's, and the tokens each path computes are
counted against the minimum (each distinct prefix once, plus every prompt's own suffix). With vllm
installed, the same designs run on vLLM (prefix caching on) in a child process, with the engine's own
prefix-cache hit rate. Writes docs/performance.md. On a CUDA machine it also times a randomly
initialised model of a real architecture (Llama-3-8B config, bf16) against the matrix-multiply roofline.

    persona-bench perf --threads 1 --peer-python /path/to/venv/bin/python   # -> docs/performance.md
    pip install '.[peer]' && persona-bench perf --threads 1                  # lm-eval importable here

Modules: designs (the designs, their Administrator, the minimum tokens), timing (a path's result, memory,
recorded log-probs, agreement), ours ((c) and (a)), peer (lm-eval), vllm_path (the vLLM child), machine
(machine facts, the GPU roofline), runs (the paths interleaved and repeated), report (docs/performance.md),
cli (`main`: arguments and the order of work).
"""

