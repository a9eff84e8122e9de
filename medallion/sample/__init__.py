"""The sample-data generator: the five source datasets with defects injected at known counts."""
