"""The gRPC side: declared servicers, the translation to protobuf, the callers' certificates."""
