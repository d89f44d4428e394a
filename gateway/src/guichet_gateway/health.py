"""/healthz: every dependency, each with its own status; 503 when one is down."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import grpc
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import BaseModel

router = APIRouter(tags=["health"])

State = Literal["up", "down"]


class HealthOut(BaseModel):
    status: State
    dependencies: dict[str, State]


async def _grpc_up(channel: grpc.aio.Channel) -> bool:
    try:
        stub: Any = health_pb2_grpc.HealthStub(channel)  # the stubs' types lack the aio form
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2.0)
    except grpc.aio.AioRpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def _http_up(client: httpx.AsyncClient, url: str) -> bool:
    try:
        response = await client.get(url)
    except httpx.HTTPError:
        return False
    return response.is_success


@router.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "A dependency is down"}},
)
async def healthz(request: Request) -> JSONResponse:
    """Liveness and readiness in one: each service's gRPC health and each server's health URL."""
    state = request.app.state
    names = [*state.channels, *state.health_urls]
    checks = [_grpc_up(channel) for channel in state.channels.values()] + [
        _http_up(state.http, url) for url in state.health_urls.values()
    ]
    results = await asyncio.gather(*checks)
    dependencies = {name: ("up" if up else "down") for name, up in zip(names, results, strict=True)}
    healthy = all(results)
    return JSONResponse(
        {"status": "up" if healthy else "down", "dependencies": dependencies},
        status_code=200 if healthy else 503,
    )
