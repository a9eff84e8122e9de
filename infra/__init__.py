"""The troposphere stack: one CloudFormation template per environment of the pipeline."""
