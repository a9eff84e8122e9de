"""The local runtime: moto engine hooks, local services, job runner and host, DuckDB catalog."""
