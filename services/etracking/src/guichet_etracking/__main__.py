"""`python -m guichet_etracking {grpc,worker,all}`: the gRPC server, the events worker, or both;
`... retention`: purge once what is past its retention (a CronJob's command)."""

from __future__ import annotations

import sys

from guichet_etracking import retention
from guichet_etracking.app import run
from guichet_etracking.settings import EtrackingSettings
from guichet_kit.runtime import run_roles


def main() -> None:
    if sys.argv[1:2] == ["retention"]:
        sys.exit(retention.command())
    run_roles("guichet_etracking", lambda roles: run(EtrackingSettings(), roles))


if __name__ == "__main__":
    main()
