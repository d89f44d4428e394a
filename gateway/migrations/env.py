from guichet_gateway.store import metadata
from guichet_kit.migrations import run_migrations

run_migrations(metadata)
