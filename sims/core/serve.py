"""Serving a runtime: one uvicorn server per sim plus the control plane, all on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import threading
from collections.abc import Callable

import uvicorn

from sims.core.control_plane import build_control_app
from sims.core.durable import DurableAck
from sims.core.runtime import Runtime

log = logging.getLogger("sims.serve")
TICK_SECONDS = 0.1  # how often jobs are run while the clock follows real time


def run_loop(main) -> None:
    """Run a coroutine on uvloop when installed: with the default loop, kept-alive connections of
    the in-process world answered ~40 ms late (measured), with uvloop in well under 1 ms."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us: several servers share one process."""

    def capture_signals(self):  # type: ignore[override]
        return contextlib.nullcontext()


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket; port 0 picks a free one (read it back with getsockname)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says so; without it kept-alive requests waited ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _http_impl() -> str:
    try:
        import httptools  # noqa: F401

        return "httptools"
    except ImportError:
        return "h11"


class WorldServer:
    """Serves a runtime's apps on pre-bound sockets until ``stop()``."""

    def __init__(
        self, runtime: Runtime, sockets: dict[str, socket.socket], log_level: str = "warning"
    ) -> None:
        self.runtime = runtime
        self.sockets = sockets
        self.servers: dict[str, _Server] = {}
        http = _http_impl()
        for name in sockets:
            if name == "control":
                app = build_control_app(runtime)
                if runtime.persister is not None:  # acknowledge a change only once it is on disk
                    app = DurableAck(app, runtime.persister)
            else:
                app = runtime.app(name)
            config = uvicorn.Config(
                app,
                log_level=log_level,
                log_config=None,  # uvicorn's records go to the root logger: one format (sims.core.logs)
                access_log=False,
                lifespan="off",
                http=http,
                ws="none",
                timeout_keep_alive=30,
                server_header=False,
                date_header=False,
            )
            self.servers[name] = _Server(config)
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    async def _tick(self) -> None:
        # Wall-clock sleep is right here: this loop *drives* the simulated clock in real mode.
        while not self._stopping.is_set():
            if not self.runtime.clock.frozen:
                ran = await self.runtime.clock.run_due_async()
                if ran and self.runtime.persister is not None:
                    self.runtime.persister.request()  # jobs change state too; nobody waits for it
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TICK_SECONDS)

    async def _watch_started(self) -> None:
        while not self._stopping.is_set():
            for name, server in self.servers.items():
                if name != "control":
                    self.runtime.serving[name] = server.started
            if all(s.started for s in self.servers.values()):
                self._ready.set()
                return
            await asyncio.sleep(0.005)

    async def run(self, on_ready: Callable[[], None] | None = None) -> None:
        # The world as loaded is long-lived: keep it out of the collector's full passes, and make
        # those rarer. At 100,000 SCIM users a full pass stalled requests for 100-200 ms.
        gc.collect()
        gc.freeze()
        gc.set_threshold(700, 10, 100)
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(server.serve(sockets=[self.sockets[name]]), name=f"serve-{name}")
            for name, server in self.servers.items()
        ]
        ticker = asyncio.create_task(self._tick())
        watcher = asyncio.create_task(self._watch_started())
        if on_ready:
            watcher.add_done_callback(lambda t: self._ready.is_set() and on_ready())
        try:
            await self._stopping.wait()
        finally:
            for server in self.servers.values():
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
            ticker.cancel()
            watcher.cancel()
            for sock in self.sockets.values():
                sock.close()
            if self.runtime.persister is not None:
                await self.runtime.persister.close()

    def request_stop(self) -> None:
        if self._loop and self._stopping:
            self._loop.call_soon_threadsafe(self._stopping.set)

    # -- running in a background thread (pytest plugin, embedding) -------------------------------
    def start_in_thread(self, timeout: float = 20.0) -> None:
        def target() -> None:
            try:
                run_loop(self.run())
            except BaseException as err:  # surfaced by start_in_thread
                self._error = err
                self._ready.set()

        self._thread = threading.Thread(target=target, name="sims-world", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the world did not start serving in time")
        if self._error:
            raise RuntimeError(f"the world failed to start: {self._error}") from self._error

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        if self._thread:
            self._thread.join(timeout)
