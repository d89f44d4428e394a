"""`python -m guichet_gateway`: serve the API with uvicorn."""

from __future__ import annotations

import os

import uvicorn


def main() -> None:
    uvicorn.run(
        "guichet_gateway.app:create_app",
        factory=True,
        host=os.environ.get("GATEWAY_HOST", "127.0.0.1"),
        port=int(os.environ.get("GATEWAY_PORT", "8000")),
        log_level="warning",
        proxy_headers=False,
        # The C event loop and HTTP parser: the pure-Python ones cost a large share of a request.
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
