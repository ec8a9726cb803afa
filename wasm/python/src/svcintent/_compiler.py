"""The API: a :class:`Compiler` with limits, whose methods build one protocol request each
(``core/src/api.rs``), run it in the sandboxed module and turn the response into the types of
``_types``. What the intent means is decided by the module only."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, NoReturn, Optional, Union

from . import _runtime
from ._errors import InternalError, RequestError, SvcintentError
from ._types import Diagnostic, Rendered, RenderedFile, SiteDiff, VersionInfo

#: The JSON protocol version this package speaks (``"version"`` of every message).
PROTOCOL_VERSION = 1

#: A site: ``{site-relative path: YAML text}``, e.g. what :func:`svcintent.load_site` returns.
Files = Mapping[str, str]

CacheDir = Union[str, "os.PathLike[str]", bool, None]


def _package_version() -> str:
    try:
        return importlib.metadata.version("svcintent")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _files_json(files: Files) -> List[Dict[str, str]]:
    if not isinstance(files, Mapping):
        raise TypeError(
            f"files must be a mapping of site-relative path to YAML text (or svcintent.load_site(...)), "
            f"not {type(files).__name__}"
        )
    out = []
    for path, text in files.items():
        if not isinstance(path, str) or not isinstance(text, str):
            raise TypeError(
                f"files must map str paths to str texts; got {type(path).__name__} -> {type(text).__name__}"
            )
        out.append({"path": path, "text": text})
    return out


class Compiler:
    """Runs the bundled svcintent module under limits, one fresh instance per call, so that a
    call that hits a limit (or worse) cannot affect the next one.

    The limits and their defaults are the ``svcintent`` command's (``--fuel``,
    ``--max-memory``, ``--timeout``, ``--max-stack``):

    - ``fuel``: about one unit per WebAssembly instruction; default 10**12 (about ten times
      what rendering a 10,000-service site takes). Raises :class:`FuelExhaustedError`.
    - ``max_memory``: the module's linear memory, bytes; default 3 GiB, at most 4 GiB.
      Raises :class:`MemoryLimitError`.
    - ``timeout``: wall-clock seconds per call; default 600. Raises :class:`TimeLimitError`.
    - ``max_stack``: native stack for the module's WebAssembly frames, bytes; default and
      maximum 2 MiB (the command's default is 4 MiB, but wasmtime's Python API cannot raise
      its async stack size, 2 MiB, and wasmtime aborts the process for a larger value).
      Raises :class:`StackLimitError`. The module is compiled once per process for each
      stack size in use.

    The module is compiled on first use and kept for the life of the process; the compiled
    code is also cached on disk (``cache_dir``: default ``$SVCINTENT_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/svcintent``, else ``~/.cache/svcintent``; ``False`` disables it), which
    turns seconds of compilation into milliseconds for the next process. Calls are safe from
    several threads; they run one at a time per stack size.
    """

    DEFAULT_FUEL = 1_000_000_000_000
    DEFAULT_MAX_MEMORY = 3 << 30
    DEFAULT_TIMEOUT = 600.0
    DEFAULT_MAX_STACK = 2 << 20
    MAX_STACK_CEILING = 2 << 20
    MAX_MEMORY_CEILING = 4 << 30

    def __init__(
        self,
        *,
        fuel: int = DEFAULT_FUEL,
        max_memory: int = DEFAULT_MAX_MEMORY,
        timeout: float = DEFAULT_TIMEOUT,
        max_stack: int = DEFAULT_MAX_STACK,
        cache_dir: CacheDir = None,
    ) -> None:
        if isinstance(fuel, bool) or not isinstance(fuel, int) or fuel <= 0:
            raise ValueError(f"fuel must be a positive integer, not {fuel!r}")
        if isinstance(max_memory, bool) or not isinstance(max_memory, int) or not (
            0 < max_memory <= self.MAX_MEMORY_CEILING
        ):
            raise ValueError(f"max_memory must be a number of bytes from 1 to 4GiB, not {max_memory!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if isinstance(max_stack, bool) or not isinstance(max_stack, int) or not (
            0 < max_stack <= self.MAX_STACK_CEILING
        ):
            raise ValueError(f"max_stack must be a number of bytes from 1 to 2MiB, not {max_stack!r}")
        self._limits = _runtime.Limits(
            fuel=fuel, max_memory=max_memory, timeout=float(timeout), max_stack=max_stack
        )
        self._cache: Union[Path, bool, None]
        if cache_dir is None or cache_dir is True:
            self._cache = None
        elif cache_dir is False:
            self._cache = False
        else:
            self._cache = Path(cache_dir)

    @property
    def fuel(self) -> int:
        return self._limits.fuel

    @property
    def max_memory(self) -> int:
        return self._limits.max_memory

    @property
    def timeout(self) -> float:
        return self._limits.timeout

    @property
    def max_stack(self) -> int:
        return self._limits.max_stack

    def __repr__(self) -> str:
        l = self._limits
        return (
            f"Compiler(fuel={l.fuel}, max_memory={l.max_memory}, timeout={l.timeout}, "
            f"max_stack={l.max_stack})"
        )

    # The protocol.

    def call(self, request: Mapping[str, Any]) -> Dict[str, Any]:
        """Sends one protocol request (``{"op": ...}``; ``"version"`` is added) and returns the
        response object as it is. The typed methods below are built on this."""
        message = {"version": PROTOCOL_VERSION, **request}
        try:
            data = json.dumps(message, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as e:
            raise RequestError(
                f"the request holds text that is not valid Unicode ({e.reason} at {e.start}); "
                "read the files as UTF-8"
            ) from e
        rt = _runtime.runtime(self._limits.max_stack, self._cache)
        raw = _runtime.call(rt, self._limits, data)
        try:
            response = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise InternalError(f"the module's response is not valid protocol JSON: {e}") from e
        if not isinstance(response, dict):
            raise InternalError("the module's response is not a JSON object")
        if response.get("version") != PROTOCOL_VERSION:
            raise InternalError(
                f"the module answered in protocol version {response.get('version')!r}; "
                f"this package speaks {PROTOCOL_VERSION}"
            )
        return response

    def _checked(self, request: Mapping[str, Any]) -> Dict[str, Any]:
        response = self.call(request)
        error = response.get("error")
        if error is not None:
            raise RequestError(str(error))
        return response

    @staticmethod
    def _diagnostics(response: Mapping[str, Any], field: str = "diagnostics") -> List[Diagnostic]:
        raw = response.get(field, [])
        if not isinstance(raw, list):
            raise InternalError(f"protocol violation: `{field}` is not a list")
        return [Diagnostic.from_json(d) for d in raw]

    @staticmethod
    def _text(response: Mapping[str, Any]) -> str:
        text = response.get("text")
        if not isinstance(text, str):
            raise InternalError("protocol violation: the response has no `text`")
        return text

    # The operations.

    def lint(self, files: Files) -> List[Diagnostic]:
        """Every diagnostic of the site, in the compiler's order (empty when it is clean)."""
        return self._diagnostics(self._checked({"op": "lint", "files": _files_json(files)}))

    def render(self, files: Files) -> Rendered:
        """Every host's files. Raises :class:`SvcintentError` (with ``.diagnostics``) when the
        intent has errors; warnings and infos come back in ``Rendered.diagnostics``."""
        response = self._checked({"op": "render", "files": _files_json(files)})
        diagnostics = self._diagnostics(response)
        manifest = response.get("manifest")
        if not response.get("ok") or not isinstance(manifest, dict):
            _raise_errors("the intent", "rendered", diagnostics)
        raw_files = response.get("files", [])
        if not isinstance(raw_files, list):
            raise InternalError("protocol violation: `files` is not a list")
        return Rendered(
            files=tuple(RenderedFile.from_json(f) for f in raw_files),
            manifest=manifest,
            diagnostics=tuple(diagnostics),
        )

    def explain(self, code: str) -> str:
        """The documentation of a diagnostic code (``SI010`` or ``unknown-key``). Raises
        :class:`RequestError` for an unknown code."""
        return self._text(self._checked({"op": "explain", "code": code}))

    def schema(self) -> Dict[str, Any]:
        """The JSON Schema of the input format."""
        text = self._text(self._checked({"op": "schema"}))
        try:
            schema = json.loads(text)
        except ValueError as e:
            raise InternalError(f"the module's schema is not JSON: {e}") from e
        if not isinstance(schema, dict):
            raise InternalError("the module's schema is not a JSON object")
        return schema

    def trace(self, files: Files, service: str) -> str:
        """Where each effective setting of ``service`` came from (the text ``svcintent trace``
        prints). Raises :class:`RequestError` when the site has no such service."""
        return self._text(
            self._checked({"op": "trace", "files": _files_json(files), "service": service})
        )

    def diff(self, old_files: Files, new_files: Files) -> SiteDiff:
        """What changes from ``old_files`` to ``new_files``: statements about the network and
        the unified diff of every rendered file that changes (what ``svcintent diff`` prints).
        Raises :class:`SvcintentError` (with ``.diagnostics``) when either site has errors: the
        new site's diagnostics when it has errors, the old site's (as ``svcintent diff`` prints
        them) when the old one has errors. Warnings and infos of the new site come back in
        ``SiteDiff.diagnostics``."""
        response = self.call(
            {"op": "diff", "old": _files_json(old_files), "new": _files_json(new_files)}
        )
        error = response.get("error")
        if error is not None:
            raise SvcintentError(str(error), self._diagnostics(response, "old_diagnostics"))
        diagnostics = self._diagnostics(response)
        raw = response.get("diff")
        if not response.get("ok") or raw is None:
            _raise_errors("the new site", "compared", diagnostics)
        return SiteDiff.from_json(raw, tuple(diagnostics))

    def version(self) -> VersionInfo:
        """The versions of the module, this package and wasmtime."""
        text = self._text(self._checked({"op": "version"}))
        return VersionInfo(
            core=text,
            package=_package_version(),
            abi=_runtime.ABI_VERSION,
            protocol=PROTOCOL_VERSION,
            wasmtime=_runtime._wasmtime_version(),
            module_sha256=hashlib.sha256(_runtime.module_bytes()).hexdigest(),
        )


_default: Optional[Compiler] = None


def _raise_errors(what: str, did: str, diagnostics: List[Diagnostic]) -> NoReturn:
    """Raises :class:`SvcintentError` for a response that failed because ``what`` has errors."""
    errors = [d for d in diagnostics if d.is_error]
    if not errors:
        raise InternalError(f"the module {did} nothing and reported no error")
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise SvcintentError(f"{what} has {len(errors)} error(s); first: {first}{more}", diagnostics)


def default_compiler() -> Compiler:
    """The :class:`Compiler` with default limits that the module-level functions use."""
    global _default
    if _default is None:
        _default = Compiler()
    return _default


def lint(files: Files) -> List[Diagnostic]:
    """:meth:`Compiler.lint` with the default limits."""
    return default_compiler().lint(files)


def render(files: Files) -> Rendered:
    """:meth:`Compiler.render` with the default limits."""
    return default_compiler().render(files)


def explain(code: str) -> str:
    """:meth:`Compiler.explain` with the default limits."""
    return default_compiler().explain(code)


def schema() -> Dict[str, Any]:
    """:meth:`Compiler.schema` with the default limits."""
    return default_compiler().schema()


def trace(files: Files, service: str) -> str:
    """:meth:`Compiler.trace` with the default limits."""
    return default_compiler().trace(files, service)


def diff(old_files: Files, new_files: Files) -> SiteDiff:
    """:meth:`Compiler.diff` with the default limits."""
    return default_compiler().diff(old_files, new_files)


def version() -> VersionInfo:
    """:meth:`Compiler.version` with the default limits."""
    return default_compiler().version()
