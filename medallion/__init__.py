"""medallion: the CLI and the embedded local AWS that runs the pipeline on one laptop."""

from pathlib import Path

__version__ = "0.1.0"

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The checkout: jobs/, infra/, contracts/ and statemachine/ beside medallion/."""
