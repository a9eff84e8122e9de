"""The embedded local AWS: patched moto with local Glue, Athena and SNS behind it."""
