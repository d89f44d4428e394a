"""`python -m guichet_wallet {grpc,worker,all}`: the gRPC server, the worker, or both."""

from __future__ import annotations

from guichet_kit.runtime import run_roles
from guichet_wallet.app import run
from guichet_wallet.settings import WalletSettings


def main() -> None:
    run_roles("guichet_wallet", lambda roles: run(WalletSettings(), roles))


if __name__ == "__main__":
    main()
