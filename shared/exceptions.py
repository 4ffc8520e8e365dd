"""The two kinds of failure every stage distinguishes (house rule 7).

Library exceptions are translated into these at the edge, so a stage's loop
only has to decide between "try again" and "dead-letter and move on".
"""

from __future__ import annotations

__all__ = ["NewsflowError", "PoisonMessage", "RetryableError"]


class NewsflowError(Exception):
    """Root of every error newsflow raises on purpose."""


class RetryableError(NewsflowError):
    """The world is down (broker, Elasticsearch, a site): back off and retry, never drop."""


class PoisonMessage(NewsflowError):
    """This input can never succeed: dead-letter it with ``reason`` and move on.

    ``reason`` is a short, stable, machine-readable code (``invalid-message``,
    ``binary-body``…) used for metrics and for ``newsflow deadletter --reason``;
    the message is the human-readable detail.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason}: {self.args[0]}"

    def __reduce__(self) -> tuple[type[PoisonMessage], tuple[str, str]]:
        # Pickled across processes (the cleaner's extraction children raise
        # it); the default would rebuild it from the message alone and fail.
        return (type(self), (self.reason, self.args[0]))
