"""Where tests/jobs/ still import ``run_job`` from: the job runner is medallion.local.jobrunner.

Kept only until tests/jobs/ (another change's files) import from medallion.local.jobrunner.
"""

from medallion.local.jobrunner import run_job

__all__ = ["run_job"]
