"""Where the local infrastructure started by `make infra` listens (read from .data/infra.env)."""

from __future__ import annotations

import os
from pathlib import Path


def find_root(start: Path | None = None) -> Path:
    """The checkout root: $GUICHET_ROOT, else the nearest parent holding .data/infra.env."""
    if root := os.environ.get("GUICHET_ROOT"):
        return Path(root)
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".data" / "infra.env").is_file():
            return candidate
    raise FileNotFoundError("no .data/infra.env found: run `make infra` first")


def read_infra_env(root: Path | None = None) -> dict[str, str]:
    path = (root or find_root()) / ".data" / "infra.env"
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def postgres_url(env: dict[str, str], database: str, *, driver: str = "asyncpg") -> str:
    return (
        f"postgresql+{driver}://{env['GUICHET_PG_USER']}:{env['GUICHET_PG_PASSWORD']}"
        f"@{env['GUICHET_PG_HOST']}:{env['GUICHET_PG_PORT']}/{database}"
    )
