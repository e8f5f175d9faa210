"""Tools around the harness: the throughput benchmark (perf) and a local single-node Slurm."""
