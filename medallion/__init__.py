"""medallion: the CLI and the embedded local AWS that runs the pipeline on one laptop."""

__version__ = "0.1.0"
