"""Results: the run folder and its parts (atomic, resumable), the response schema, provenance,
the printed summary, sweep status and merge, and the output folders tools own (outdir)."""
