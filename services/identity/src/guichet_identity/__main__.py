"""`python -m guichet_identity {grpc,worker,all}`: the gRPC server, the events worker, or both."""

from __future__ import annotations

from guichet_identity.app import run
from guichet_identity.settings import IdentitySettings
from guichet_kit.runtime import run_roles


def main() -> None:
    run_roles("guichet_identity", lambda roles: run(IdentitySettings(), roles))


if __name__ == "__main__":
    main()
