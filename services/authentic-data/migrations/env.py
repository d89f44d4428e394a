from guichet_authentic_data.access import models as access_models  # noqa: F401 (registers the tables)
from guichet_authentic_data.certificates import models as certificate_models  # noqa: F401
from guichet_authentic_data.registers import models as register_models  # noqa: F401
from guichet_authentic_data.reports import models as report_models  # noqa: F401
from guichet_kit.db import Base
from guichet_kit.events import ProcessedEvent  # noqa: F401
from guichet_kit.migrations import run_migrations
from guichet_kit.outbox import OutboxMessage  # noqa: F401

run_migrations(Base.metadata)
