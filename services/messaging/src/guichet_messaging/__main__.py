"""`python -m guichet_messaging {grpc,worker,all}`: the gRPC server, the worker (event consumers
and the delivery of notifications), or both; `... retention`: purge once what is past its
retention (a CronJob's command)."""

from __future__ import annotations

import sys

from guichet_kit.runtime import run_roles
from guichet_messaging import retention
from guichet_messaging.app import run
from guichet_messaging.settings import MessagingSettings


def main() -> None:
    if sys.argv[1:2] == ["retention"]:
        sys.exit(retention.command())
    run_roles("guichet_messaging", lambda roles: run(MessagingSettings(), roles))


if __name__ == "__main__":
    main()
