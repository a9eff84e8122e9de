"""The Glue job code: shipped to Glue as one package with --extra-py-files."""
