"""Progress of bulk generation (big worlds): a tiny callback interface, no-op by default.

Domain modules ask ``current()`` for the progress of the world being built and report on it;
``sims.launch`` installs a real one (``using``) only while it builds a runtime, so a sim reset
or a test never shows anything unless asked. The rich-backed bar lives here too but imports
rich only when it is made, so domain modules stay free of it.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Iterator
from typing import Protocol


class Task(Protocol):
    def advance(self, n: int = 1) -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    def task(self, name: str, total: int) -> Task: ...


class _NullTask:
    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class NullProgress:
    """Reports nothing: the default."""

    _task = _NullTask()

    def task(self, name: str, total: int) -> Task:
        return self._task


NULL = NullProgress()
_current: contextvars.ContextVar[Progress] = contextvars.ContextVar("sims_progress", default=NULL)

# Generation at least this large shows a bar even when stderr is not a terminal.
LARGE = 10_000


def current() -> Progress:
    return _current.get()


@contextlib.contextmanager
def using(progress: Progress | None) -> Iterator[Progress]:
    """Make ``progress`` the one ``current()`` returns inside the block."""
    token = _current.set(progress or NULL)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


class _RichTask:
    def __init__(self, bar, task_id) -> None:
        self.bar, self.id = bar, task_id

    def advance(self, n: int = 1) -> None:
        self.bar.advance(self.id, n)

    def close(self) -> None:
        done = self.bar.tasks[self.id].completed  # an estimated total becomes the real one
        self.bar.update(self.id, total=done, completed=done)


class RichProgress:
    """Bars on stderr (rich.progress), one per generation task; a context manager."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def task(self, name: str, total: int) -> Task:
        return _RichTask(self.bar, self.bar.add_task(name, total=total))


def wanted(planned: int) -> bool:
    """Show bars when stderr is a terminal or when generation is large."""
    return planned >= LARGE or (planned > 0 and sys.stderr.isatty())
