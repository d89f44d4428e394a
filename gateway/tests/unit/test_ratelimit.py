from guichet_gateway.ratelimit import RateLimiter


def test_a_burst_passes_then_the_client_waits_for_the_rate() -> None:
    limiter = RateLimiter(rate_per_minute=60, burst=3)
    assert [limiter.acquire("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a", now=0.0) == 1.0
    assert limiter.acquire("a", now=1.0) == 0.0


def test_clients_are_limited_separately() -> None:
    limiter = RateLimiter(rate_per_minute=60, burst=1)
    assert limiter.acquire("a", now=0.0) == 0.0
    assert limiter.acquire("a", now=0.0) > 0
    assert limiter.acquire("b", now=0.0) == 0.0


def test_tokens_never_exceed_the_burst() -> None:
    limiter = RateLimiter(rate_per_minute=60, burst=2)
    limiter.acquire("a", now=0.0)
    assert [limiter.acquire("a", now=3600.0) for _ in range(3)][-1] > 0


def test_memory_is_bounded_by_forgetting_the_oldest_client() -> None:
    limiter = RateLimiter(rate_per_minute=60, burst=1, max_clients=2)
    limiter.acquire("a", now=0.0)
    limiter.acquire("b", now=0.0)
    limiter.acquire("c", now=0.0)
    assert limiter.acquire("a", now=0.0) == 0.0, "a was forgotten, so it starts with a full bucket"
