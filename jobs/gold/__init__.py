"""The gold layer: a thin Glue entry script and pure DataFrame transforms."""
