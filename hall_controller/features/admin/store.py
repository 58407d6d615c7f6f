"""The configuration versions (配置版本) in the ledger: each version's whole document, who made it and when, a
one-line summary and the diff from the version before. Append-only: a rollback is a new version."""

from __future__ import annotations

from hall_controller.core.feature import Table

CONFIG_VERSIONS = Table("config_versions", {
    "version": int, "at": str, "by": str, "summary": str,
    "diff": str,  # JSON list of lines (admin.rules.diff)
    "document": str,  # JSON: the configuration, TOML's shape, secrets stored as hashes
    "source": str,  # where it came from: "admin", "rollback:N", "file:PATH", "import"
    "source_hash": str,  # for a version read from a TOML file: the file document's hash (a changed file is re-imported at start)
}, "version")
