"""Pure functions that build Block Kit: no I/O, tested without Slack."""
