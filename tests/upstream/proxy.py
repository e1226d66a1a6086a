"""A real HTTP forward proxy on a local port, for the egress-proxy tests: what a client sends it for an http://
target (absolute-form request lines, RFC 9112 3.2.2) is forwarded to that target and the answer piped back
unchanged, streaming included. It records the target of each request it carried."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Self
from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self) -> None:
        self.targets: list[str] = []  # "METHOD http://host:port/path" of each request line carried
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="forward-proxy")
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._client, "127.0.0.1", 0), self._loop
        ).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            line = await reader.readline()
            method, target, version = line.decode("latin-1").split(" ", 2)
            self.targets.append(f"{method} {target}")
            parts = urlsplit(target)
            up_reader, upstream = await asyncio.open_connection(parts.hostname, parts.port or 80)
            origin_form = parts.path + (f"?{parts.query}" if parts.query else "")
            upstream.write(f"{method} {origin_form} {version}".encode("latin-1"))
            # Headers, body and any later request on this connection go through as they are.
            await asyncio.gather(self._pipe(reader, upstream, record=True), self._pipe(up_reader, writer))
        except (ConnectionError, ValueError, OSError):
            pass
        finally:
            for stream in (upstream, writer):
                if stream is not None:
                    with contextlib.suppress(Exception):
                        stream.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, record: bool = False) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                if record:
                    for text in data.decode("latin-1", "replace").split("\r\n"):
                        if text.startswith(("POST http", "GET http")):
                            self.targets.append(text.rsplit(" ", 1)[0])
                sink.write(data)
                await sink.drain()
        with contextlib.suppress(Exception):
            sink.write_eof()
