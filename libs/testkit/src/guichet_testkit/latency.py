"""A slow link for tests: a TCP proxy on loopback that delays every chunk it forwards.

Put it between a client and a real server (e.g. the gateway and identity) to see what the client
does when the network is slow, without touching either process::

    async with LatencyProxy("127.0.0.1:50071", delay=0.3) as proxy:
        ...  # start the client with proxy.address instead of the server's

Each chunk read from one side is written to the other `delay` seconds after it arrived, in order,
in both directions: a request-and-answer over an open connection takes `2 * delay` longer. The
delay of one chunk does not add to the next (a chunk that arrives while another waits leaves at
its own time), as on a long cable rather than a slow one.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

__all__ = ["LatencyProxy"]

_CHUNK = 64 * 1024


class LatencyProxy:
    def __init__(self, target: str, *, delay: float) -> None:
        if delay < 0:
            raise ValueError("the delay is a duration: zero or more seconds")
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self.delay = delay
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        """host:port to give the client instead of the target's."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def start(self) -> LatencyProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._links):
                task.cancel()
            await asyncio.gather(*self._links, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> LatencyProxy:
        return await self.start()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            self._links.discard(task)
            return
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        except asyncio.CancelledError:
            pass  # closed by `close()`: the connection handler ends quietly
        finally:
            for side in (writer, upstream_writer):
                side.close()
            self._links.discard(task)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Forward each chunk `delay` after it arrived; the end of the stream likewise."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            while True:
                try:
                    chunk = await source.read(_CHUNK)
                except (ConnectionError, OSError):
                    chunk = b""  # a reset ends the stream like a close
                queue.put_nowait((loop.time() + self.delay, chunk))
                if not chunk:
                    return

        reading = asyncio.create_task(read())
        try:
            while True:
                due, chunk = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not chunk:
                    with contextlib.suppress(OSError):
                        if sink.can_write_eof():
                            sink.write_eof()
                    return
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, OSError):
            return
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await reading
