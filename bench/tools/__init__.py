"""Tools around the harness: the catalogue of shipped data (`ls`), file checks (`validate`), the
throughput benchmark (`perf`) and a local single-node Slurm (`slurm start|stop`)."""
