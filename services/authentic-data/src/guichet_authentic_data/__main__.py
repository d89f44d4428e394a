"""`python -m guichet_authentic_data {grpc,worker,all}`: the gRPC server, the events worker, or
both; `... verify-log`: check the access log's hash chain (exit status 1 at a broken link);
`... seed [--seed N] [--persons N]`: replace the synthetic registers by generated ones;
`... retention`: purge once what is past its retention (a CronJob's command)."""

from __future__ import annotations

import sys

from guichet_authentic_data import retention
from guichet_authentic_data.app import run
from guichet_authentic_data.cli import seed_command, verify_log_command
from guichet_authentic_data.settings import AuthenticDataSettings
from guichet_kit.runtime import run_roles


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "verify-log":
        sys.exit(verify_log_command(sys.argv[2:]))
    if command == "seed":
        sys.exit(seed_command(sys.argv[2:]))
    if command == "retention":
        sys.exit(retention.command())
    run_roles("guichet_authentic_data", lambda roles: run(AuthenticDataSettings(), roles))


if __name__ == "__main__":
    main()
