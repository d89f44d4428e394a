"""`python -m guichet_identity {grpc,worker,all}`: the gRPC server, the events worker, or both;
`... retention`: purge once what is past its retention (a CronJob's command)."""

from __future__ import annotations

import sys

from guichet_identity import retention
from guichet_identity.app import run
from guichet_identity.settings import IdentitySettings
from guichet_kit.runtime import run_roles


def main() -> None:
    if sys.argv[1:2] == ["retention"]:
        sys.exit(retention.command())
    run_roles("guichet_identity", lambda roles: run(IdentitySettings(), roles))


if __name__ == "__main__":
    main()
