"""Development SMS sink: an HTTP endpoint that keeps every SMS as a JSON file for tests to read.

POST   /messages   {"to": "+352...", "text": "..."} -> 202 {"id": ...}; writes <dir>/<ts>-<id>.json
GET    /messages   -> 200 {"messages": [...]} oldest first; optional ?to=+352... filter
DELETE /messages   -> 204, removes every stored message
GET    /healthz    -> 200 {"status": "ok"}

python deploy/local/sinks/sms_sink.py --dir .data/sms [--host 127.0.0.1] [--port 51080]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("sms_sink")
MAX_BODY = 64 * 1024


class Handler(BaseHTTPRequestHandler):
    server_version = "OpenGuichetSmsSink/1"
    directory: Path

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: Any | None = None) -> None:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _messages(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                out.append(json.loads(path.read_text("utf-8")))
            except (OSError, ValueError):
                continue
        return out

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._send(200, {"status": "ok"})
        elif url.path == "/messages":
            messages = self._messages()
            to = parse_qs(url.query).get("to")
            if to:
                messages = [m for m in messages if m.get("to") in to]
            self._send(200, {"messages": messages})
        else:
            self._send(404, {"error": "not found"})

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path != "/messages":
            self._send(404, {"error": "not found"})
            return
        for path in self.directory.glob("*.json"):
            path.unlink(missing_ok=True)
        self._send(204)

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/messages":
            self._send(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send(413 if length > MAX_BODY else 400, {"error": "bad Content-Length"})
            return
        try:
            payload = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            self._send(400, {"error": "body must be JSON"})
            return
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("to"), str)
            or not payload["to"].strip()
            or not isinstance(payload.get("text"), str)
        ):
            self._send(400, {"error": 'expected {"to": "<phone number>", "text": "<message>"}'})
            return
        now = datetime.now(UTC)
        message = {
            "id": str(uuid.uuid4()),
            "to": payload["to"],
            "text": payload["text"],
            "received_at": now.isoformat(),
        }
        for key, value in payload.items():  # keep extra fields (sender, reference...) for tests
            message.setdefault(key, value)
        name = f"{now.strftime('%Y%m%dT%H%M%S.%fZ')}-{message['id']}.json"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_text(json.dumps(message, ensure_ascii=False, indent=2), "utf-8")
        os.replace(tmp, self.directory / name)
        log.info("stored %s to=%s", name, message["to"])
        self._send(202, message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=51080)
    parser.add_argument("--dir", type=Path, default=Path(".data/sms"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    directory = args.dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    Handler.directory = directory
    ThreadingHTTPServer.allow_reuse_address = True
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.daemon_threads = True

    def _stop(signum: int, frame: object) -> None:
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("SMS sink listening on %s:%d, writing to %s", args.host, args.port, directory)
    httpd.serve_forever()
    httpd.server_close()
    log.info("SMS sink stopped")


if __name__ == "__main__":
    main()
