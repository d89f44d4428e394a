"""`python -m guichet_etracking {grpc,worker,all}`: the gRPC server, the events worker, or both."""

from __future__ import annotations

import argparse
import asyncio

from guichet_etracking.app import ROLES, run
from guichet_etracking.settings import EtrackingSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="guichet_etracking")
    parser.add_argument("role", choices=[*ROLES, "all"])
    args = parser.parse_args()
    roles = ROLES if args.role == "all" else (args.role,)
    asyncio.run(run(EtrackingSettings(), roles))


if __name__ == "__main__":
    main()
