"""`python -m bench.tools.perf`: the benchmark from the command line (and the vLLM child it starts)."""

from bench.tools.perf.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
