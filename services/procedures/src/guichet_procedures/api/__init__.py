"""gRPC servicers: people through the gateway, administrations over mutual TLS."""
