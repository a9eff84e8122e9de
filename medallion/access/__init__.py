"""What each principal of the stack really touches, recorded locally and checked against its IAM.

moto does not enforce IAM, so a local run proves nothing about permissions by itself. This package
records what every principal does in a local run (lake objects through inotify, AWS API calls
through botocore's events, the state machine's service integrations from its definition), maps
each access to the IAM action and the ARN it has in the deployed stack, and evaluates it against
that principal's policies in the rendered template (:mod:`medallion.access.evaluate`) or, after a
deploy, with the account's own policy simulator (:mod:`medallion.access.verify`).
"""
