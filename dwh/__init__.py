"""The entry points: the `dwh` command, the in-process job runner and the benchmark."""
