"""Pipelines: whole jobs that string the domain packages together (a run, the fidelity table, the
logprob-vs-sampling check, the clone report). Entry points call these; nothing below imports them."""
