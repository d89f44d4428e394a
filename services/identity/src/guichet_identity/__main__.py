"""`python -m guichet_identity {grpc,worker,all}`: the gRPC server, the events worker, or both."""

from __future__ import annotations

import argparse
import asyncio

from guichet_identity.app import ROLES, run
from guichet_identity.settings import IdentitySettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="guichet_identity")
    parser.add_argument("role", choices=[*ROLES, "all"])
    args = parser.parse_args()
    roles = ROLES if args.role == "all" else (args.role,)
    asyncio.run(run(IdentitySettings(), roles))


if __name__ == "__main__":
    main()
