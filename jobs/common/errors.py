"""Small named errors the jobs raise; each carries a message meant for a person."""


class MedallionError(Exception):
    """Base of every error a job reports as its failure message."""


class ContractError(MedallionError):
    """A contract file is malformed: the message names the file, the rule and the problem."""


class JobArgumentError(MedallionError):
    """A job was started with missing or invalid arguments."""


class ConfigurationError(MedallionError):
    """The environment lacks something the job needs (a secret, Java, a path)."""


class QualityGateFailed(MedallionError):
    """An error-severity dataset rule failed; the message lists the rules and by how much."""

    def __init__(self, failures: list[str], reasons: list[str] | None = None) -> None:
        self.failures = failures
        said = "; ".join(reasons or [])
        super().__init__(
            "quality gate failed: "
            + "; ".join(failures)
            + (f"; commonest quarantine reasons: {said}" if said else "")
        )


class LandingReadError(MedallionError):
    """Spark could not read a dataset's new landing files to their end (a .gz cut short)."""
