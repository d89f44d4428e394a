import importlib
import pkgutil

import guichet_identity
from guichet_kit.db import Base
from guichet_kit.events import ProcessedEvent  # noqa: F401  (the kit's tables)
from guichet_kit.migrations import run_migrations
from guichet_kit.outbox import OutboxMessage  # noqa: F401

# Every `<sub-domain>/models.py` registers its tables (profile, relations, spaces, account, ...),
# so a new sub-domain cannot be forgotten here.
for module in pkgutil.walk_packages(guichet_identity.__path__, "guichet_identity."):
    if module.name.endswith(".models"):
        importlib.import_module(module.name)

run_migrations(Base.metadata)
