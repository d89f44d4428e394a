"""Baseline for bench/etracking_lookup.py: a bare FastAPI endpoint returning a fixed JSON body."""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI

BODY: dict[str, Any] = json.loads(os.environ.get("BARE_LOOKUP_BODY", "{}"))

app = FastAPI()


@app.get("/api/v1/etracking/trackings/{number}")
async def lookup(number: str) -> dict[str, Any]:
    return BODY
