"""Least-privilege IAM policy documents, one module per principal, built by pure functions.

``jobs`` (the Glue jobs), ``crawlers``, ``state_machine`` (the pipeline), ``schedule``
(EventBridge) and ``analysts`` (the managed policy for people who query gold). The statement
helpers they share, and the actions allowed on ``Resource: "*"``, are in ``infra.iam``.
"""
