"""`python -m guichet_etracking {grpc,worker,all}`: the gRPC server, the events worker, or both."""

from __future__ import annotations

from guichet_etracking.app import run
from guichet_etracking.settings import EtrackingSettings
from guichet_kit.runtime import run_roles


def main() -> None:
    run_roles("guichet_etracking", lambda roles: run(EtrackingSettings(), roles))


if __name__ == "__main__":
    main()
