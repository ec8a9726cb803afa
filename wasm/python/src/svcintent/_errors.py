"""The exceptions: one base class, :class:`SvcintentError`, and one subclass per way a call
can fail. Each limit has its own class, whose message names the setting that raises it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from ._types import Diagnostic


class SvcintentError(Exception):
    """Base class of every svcintent error.

    Raised as such by :func:`svcintent.render` when the intent has errors; ``diagnostics``
    then holds every diagnostic of the site (errors, warnings and infos), in the compiler's
    order. For the other subclasses ``diagnostics`` is empty.
    """

    diagnostics: Tuple[Diagnostic, ...]

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.diagnostics = tuple(diagnostics)

    def __str__(self) -> str:
        return self.message


class SiteError(SvcintentError):
    """A site directory could not be read (:func:`svcintent.load_site`)."""


class RequestError(SvcintentError):
    """The compiler refused the request itself: an unknown diagnostic code, an unknown service,
    text that cannot be sent (not encodable as UTF-8)."""


class InternalError(SvcintentError):
    """The module crashed, broke its ABI or could not be loaded: a bug in svcintent (or a
    broken build). Report it with the input."""


class LimitError(SvcintentError):
    """A call hit one of the :class:`svcintent.Compiler` limits. ``setting`` names the
    ``Compiler`` argument that raises it, ``limit`` is its value."""

    setting: str
    limit: float

    def __init__(self, message: str, limit: float) -> None:
        super().__init__(message)
        self.limit = limit


class FuelExhaustedError(LimitError):
    """The call used all its fuel (about one unit per WebAssembly instruction)."""

    setting = "fuel"


class MemoryLimitError(LimitError):
    """The module needed more linear memory than ``max_memory`` allows."""

    setting = "max_memory"

    def __init__(self, message: str, limit: float, used: Optional[int] = None) -> None:
        super().__init__(message, limit)
        #: The module's memory, in bytes, when it stopped (``None`` when it never started).
        self.used = used


class TimeLimitError(LimitError):
    """The call ran longer than ``timeout`` seconds (wall clock)."""

    setting = "timeout"


class StackLimitError(LimitError):
    """The module's WebAssembly frames used all of ``max_stack``."""

    setting = "max_stack"
