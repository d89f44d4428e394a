"""`python -m guichet_procedures {grpc,worker,all}`: the gRPC servers, the worker, or both;
`... publish [--dir DIR]`: validate the definitions and publish the new versions;
`... retention`: purge once what is past its retention (a CronJob's command)."""

from __future__ import annotations

import sys

from guichet_kit.runtime import run_roles
from guichet_procedures import retention
from guichet_procedures.app import run
from guichet_procedures.publishing import publish_command
from guichet_procedures.settings import ProceduresSettings


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "publish":
        sys.exit(publish_command(sys.argv[2:]))
    if sys.argv[1:2] == ["retention"]:
        sys.exit(retention.command())
    run_roles("guichet_procedures", lambda roles: run(ProceduresSettings(), roles))


if __name__ == "__main__":
    main()
