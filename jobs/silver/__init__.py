"""The silver layer: a thin Glue entry script and pure DataFrame transforms."""
