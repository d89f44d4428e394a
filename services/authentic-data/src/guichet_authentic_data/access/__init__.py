"""Purpose-bound reads (F55) and the access log every read writes (F56)."""
