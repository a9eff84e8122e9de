"""The sample-data generator: the five source datasets with defects injected at known counts."""

DEFAULT_SCHEMA = "retail"  # the PostgreSQL schema the sample data is loaded into
