"""`python -m guichet_wallet {grpc,worker,all}`: the gRPC server, the worker, or both;
`... retention`: purge once what is past its retention (a CronJob's command)."""

from __future__ import annotations

import sys

from guichet_kit.runtime import run_roles
from guichet_wallet import retention
from guichet_wallet.app import run
from guichet_wallet.settings import WalletSettings


def main() -> None:
    if sys.argv[1:2] == ["retention"]:
        sys.exit(retention.command())
    run_roles("guichet_wallet", lambda roles: run(WalletSettings(), roles))


if __name__ == "__main__":
    main()
