"""svcintent: the intent compiler for load-balanced and anycast services, as the sandboxed
WebAssembly module the ``svcintent`` command runs, under wasmtime.

>>> import svcintent
>>> site = svcintent.load_site("examples/campus")
>>> svcintent.lint(site)
[]
>>> rendered = svcintent.render(site)
>>> "/etc/haproxy/haproxy.cfg" in rendered.for_host("lb1")
True

See ``docs/python.md``.
"""

from ._compiler import (
    PROTOCOL_VERSION,
    Compiler,
    Files,
    default_compiler,
    diff,
    explain,
    lint,
    render,
    schema,
    trace,
    version,
)
from ._errors import (
    FuelExhaustedError,
    InternalError,
    LimitError,
    MemoryLimitError,
    RequestError,
    SiteError,
    StackLimitError,
    SvcintentError,
    TimeLimitError,
)
from ._site import Site, load_site
from ._types import (
    Change,
    Diagnostic,
    FileDiff,
    Location,
    Related,
    Rendered,
    RenderedFile,
    SiteDiff,
    VersionInfo,
)

__all__ = [
    "PROTOCOL_VERSION",
    "Change",
    "Compiler",
    "Diagnostic",
    "FileDiff",
    "Files",
    "FuelExhaustedError",
    "InternalError",
    "LimitError",
    "Location",
    "MemoryLimitError",
    "Related",
    "Rendered",
    "RenderedFile",
    "RequestError",
    "Site",
    "SiteDiff",
    "SiteError",
    "StackLimitError",
    "SvcintentError",
    "TimeLimitError",
    "VersionInfo",
    "default_compiler",
    "diff",
    "explain",
    "lint",
    "load_site",
    "render",
    "schema",
    "trace",
    "version",
]
