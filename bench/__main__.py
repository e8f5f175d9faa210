"""`python -m bench ...`: the same as `persona-bench ...`; bare overrides (`python -m bench key=value`) are a run."""

import sys

from bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
