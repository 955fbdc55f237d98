"""SQLite through aiosqlite: connection setup, numbered migrations, repositories."""

from storage.db import Store, backup
from storage.migrations import MIGRATIONS, Migration, MigrationError

__all__ = ["MIGRATIONS", "Migration", "MigrationError", "Store", "backup"]
