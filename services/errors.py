"""Errors a person can act on. Their message is a Phrase, said in the reader's language by the
edge that tells them (handlers.errors)."""

from __future__ import annotations

from runtime.i18n import Phrase

# The storage error policy, for the edges: a database that cannot be written just now is told
# to people as such, not as a bug. Re-exported so that handlers and senders need not reach into
# the store.
from storage.errors import DuplicateError as DuplicateError
from storage.errors import StorageError as StorageError
from storage.errors import storage_problem as storage_problem
from storage.errors import until_stored as until_stored


class DomainError(Exception):
    """Base class: `message` is what went wrong, `usage` the usage line to show with it."""

    def __init__(
        self,
        message: Phrase,
        *,
        usage: str | None = None,
        field: str | None = None,
        people: tuple[str, ...] = (),
    ) -> None:
        super().__init__(str(message))
        self.message = message
        self.usage = usage
        # For modal submissions: the block_id of the input to show the message on.
        self.field = field
        # Slack user IDs to name with the message (e.g. who may do what was refused).
        self.people = people

    def with_usage(self, usage: str) -> DomainError:
        if self.usage is None:
            self.usage = usage
        return self


class BadInput(DomainError):
    """The command or value was malformed."""


class NotFound(DomainError):
    """A rollout, stage, touchpoint or person that does not exist."""


class NotAllowed(DomainError):
    """The caller may not do this; the message says who may."""


class Conflict(DomainError):
    """The request clashes with the current state (a duplicate slug, starting twice)."""


class Unavailable(DomainError):
    """Slack or the database could not be reached; nothing was changed, try again."""
