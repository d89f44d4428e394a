"""Baseline for the benchmarks: a bare FastAPI app answering every GET with a fixed JSON body."""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI

BODY: Any = json.loads(os.environ.get("BARE_APP_BODY", "{}"))

app = FastAPI()


@app.get("/{path:path}")
async def fixed(path: str) -> Any:
    return BODY
