from guichet_kit.db import Base
from guichet_kit.events import ProcessedEvent  # noqa: F401
from guichet_kit.migrations import run_migrations
from guichet_kit.outbox import OutboxMessage  # noqa: F401
from guichet_messaging.edelivery import models as edelivery_models  # noqa: F401
from guichet_messaging.exchanges import models as exchanges_models  # noqa: F401
from guichet_messaging.notifications import models  # noqa: F401  (registers the tables)

run_migrations(Base.metadata)
