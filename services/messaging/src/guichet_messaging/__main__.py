"""`python -m guichet_messaging {grpc,worker,all}`: the gRPC server, the worker (event consumers
and the delivery of notifications), or both."""

from __future__ import annotations

from guichet_kit.runtime import run_roles
from guichet_messaging.app import run
from guichet_messaging.settings import MessagingSettings


def main() -> None:
    run_roles("guichet_messaging", lambda roles: run(MessagingSettings(), roles))


if __name__ == "__main__":
    main()
