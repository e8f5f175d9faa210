"""Results: the run folder and its parts (atomic, resumable), the response schema, provenance,
the printed summary, and sweep status and merge."""
