"""Running the bundled module under wasmtime: the engine and the compiled module (compiled once
per process and per stack size, and kept in an on-disk cache), and one call in a fresh store
and instance with fuel, a memory cap, a wall-clock timeout and a stack limit, the way the host
runner does it (``host-runner/src/engine/wasm.rs``). The memory protocol is ``docs/abi.md``'s.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import stat
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import wasmtime

from ._errors import (
    FuelExhaustedError,
    InternalError,
    MemoryLimitError,
    RequestError,
    StackLimitError,
    SvcintentError,
    TimeLimitError,
)

#: The wasm ABI this package speaks (``svcintent_abi_version()`` must return it). This package
#: uses version 1's exports only (``svcintent_call``); version 2 added the streamed responses.
ABI_VERSION = 2

#: Extra native stack for the thread that runs the module, on top of ``max_stack``: wasmtime's
#: own frames and the host code around the call (as in the host runner).
HOST_STACK_MARGIN = 8 << 20

_MODULE_PATH = Path(__file__).with_name("svcintent.wasm")
_CACHE_MAGIC = b"svcintent-pycwasm1"
_PAGE = 64 << 10


def _wasmtime_version() -> str:
    try:
        return importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def human_bytes(n: int) -> str:
    """``3GiB``, ``512MiB``, ``1.5KiB``, ``100B`` (as the host runner prints sizes)."""
    for size, unit in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= size:
            return f"{n // size}{unit}" if n % size == 0 else f"{n / size:.1f}{unit}"
    return f"{n}B"


def human_seconds(s: float) -> str:
    """``600s``, ``1.5s``, ``250ms``."""
    if s >= 1:
        return f"{s:g}s" if s == int(s) else f"{s:.1f}s"
    return f"{s * 1000:g}ms"


def default_cache_dir() -> Optional[Path]:
    """Where compiled modules are cached when no directory is given:
    ``$SVCINTENT_CACHE_DIR``, else ``$XDG_CACHE_HOME/svcintent``, else ``~/.cache/svcintent``
    (the host runner's directory; the files have their own names)."""
    for var, sub in (("SVCINTENT_CACHE_DIR", ()), ("XDG_CACHE_HOME", ("svcintent",))):
        value = os.environ.get(var)
        if value and os.path.isabs(value):
            return Path(value, *sub)
    home = os.environ.get("HOME")
    if home and os.path.isabs(home):
        return Path(home, ".cache", "svcintent")
    return None


@dataclass(frozen=True)
class Limits:
    """Per-call limits (see :class:`svcintent.Compiler`)."""

    fuel: int
    max_memory: int
    timeout: float
    max_stack: int


class _Runtime:
    """One wasmtime engine and the compiled module, for one stack limit.

    The timeout ticks the engine's epoch, which would interrupt every call running on the
    engine; calls on one runtime therefore run one at a time (``lock``).
    """

    def __init__(self, wasm: bytes, max_stack: int, cache: Union[Path, None, bool]) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        config.max_wasm_stack = max_stack
        config.cranelift_opt_level = "speed"
        config.parallel_compilation = True
        self.engine = wasmtime.Engine(config)
        self.max_stack = max_stack
        self.module = self._load(wasm, cache)
        imports = self.module.imports
        if imports:
            first = imports[0]
            raise InternalError(
                f"the module imports {first.module}::{first.name}; it must import nothing"
            )
        self.lock = threading.Lock()

    def _key(self, wasm: bytes) -> str:
        h = hashlib.sha256()
        for part in (
            hashlib.sha256(wasm).hexdigest(),
            _wasmtime_version(),
            f"stack={self.max_stack} fuel epoch speed",
            sys.platform,
            os.uname().machine if hasattr(os, "uname") else "",
        ):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()

    def _load(self, wasm: bytes, cache: Union[Path, None, bool]) -> wasmtime.Module:
        directory = default_cache_dir() if cache is True or cache is None else cache
        if directory is False or directory is None:
            return self._compile(wasm)
        assert isinstance(directory, Path)
        path = directory / f"python-module-{self._key(wasm)}.cwasm"
        module = _cache_load(self.engine, directory, path)
        if module is not None:
            return module
        module = self._compile(wasm)
        _cache_store(module, directory, path)
        return module

    def _compile(self, wasm: bytes) -> wasmtime.Module:
        try:
            return wasmtime.Module(self.engine, wasm)
        except wasmtime.WasmtimeError as e:
            raise InternalError(f"compiling the module failed: {e}") from e


def _trusted(st: os.stat_result) -> bool:
    """Only what this user owns and no one else can write is loaded (a compiled module is
    native code)."""
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


def _cache_load(engine: wasmtime.Engine, directory: Path, path: Path) -> Optional[wasmtime.Module]:
    try:
        if not _trusted(os.stat(directory)):
            return None
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if not _trusted(st):
                return None
            data = f.read()
    except OSError:
        return None
    head = len(_CACHE_MAGIC) + 32
    if data[: len(_CACHE_MAGIC)] != _CACHE_MAGIC or len(data) < head:
        return None
    digest, artifact = data[len(_CACHE_MAGIC) : head], data[head:]
    if hashlib.sha256(artifact).digest() != digest:
        return None
    try:
        return wasmtime.Module.deserialize(engine, artifact)
    except wasmtime.WasmtimeError:
        return None


def _cache_store(module: wasmtime.Module, directory: Path, path: Path) -> None:
    """Best effort: a cache that cannot be written only costs the next process a compile."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(os.stat(directory)):
            return
        artifact = bytes(module.serialize())
        fd, tmp = tempfile.mkstemp(prefix=".python-module-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_CACHE_MAGIC + hashlib.sha256(artifact).digest() + artifact)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


_runtimes: Dict[Tuple[int, str], _Runtime] = {}
_runtimes_lock = threading.Lock()
_wasm_bytes: Optional[bytes] = None


def module_bytes() -> bytes:
    """The bundled module."""
    global _wasm_bytes
    if _wasm_bytes is None:
        try:
            _wasm_bytes = _MODULE_PATH.read_bytes()
        except OSError as e:
            raise InternalError(
                f"the bundled module {_MODULE_PATH} is missing ({e.strerror}); this installation "
                "of svcintent is broken: reinstall it after scripts/build-wasm.sh"
            ) from e
    return _wasm_bytes


def runtime(max_stack: int, cache: Union[Path, None, bool]) -> _Runtime:
    """The runtime for ``max_stack``: compiled on first use (or loaded from the cache), then
    kept for the life of the process."""
    key = (max_stack, repr(cache))
    with _runtimes_lock:
        rt = _runtimes.get(key)
        if rt is None:
            rt = _Runtime(module_bytes(), max_stack, cache)
            _runtimes[key] = rt
        return rt


def _to_i32(n: int) -> int:
    """An unsigned 32-bit value as the signed ``i32`` wasmtime's Python API takes."""
    return n - (1 << 32) if n >= (1 << 31) else n


class _Outcome:
    """What happened on the module's thread."""

    def __init__(self) -> None:
        self.response: Optional[bytes] = None
        self.error: Optional[BaseException] = None
        self.memory_size: Optional[int] = None
        self.failed_alloc: Optional[str] = None


def _run(rt: _Runtime, limits: Limits, request: bytes, out: _Outcome) -> None:
    """Instantiates the module in a fresh store and runs the ABI: alloc, write, call, read,
    free. Runs on the module's own thread; every failure is left in ``out``."""
    memory: Optional[wasmtime.Memory] = None
    store = wasmtime.Store(rt.engine)
    try:
        store.set_fuel(limits.fuel)
        store.set_limits(memory_size=limits.max_memory, instances=1, tables=1, memories=1)
        store.set_epoch_deadline(1)
        instance = wasmtime.Instance(store, rt.module, [])
        exports = instance.exports(store)
        funcs: List[wasmtime.Func] = []
        for name in ("svcintent_abi_version", "alloc", "free", "svcintent_call"):
            f = exports.get(name)
            if not isinstance(f, wasmtime.Func):
                raise InternalError(f"the module exports no function `{name}`")
            funcs.append(f)
        abi_version, alloc, free, call = funcs
        mem = exports.get("memory")
        if not isinstance(mem, wasmtime.Memory):
            raise InternalError("the module exports no memory")
        memory = mem
        version = abi_version(store)
        if version != ABI_VERSION:
            raise InternalError(
                f"the module speaks ABI version {version}; this package speaks {ABI_VERSION}"
            )
        n = len(request)
        ptr = alloc(store, _to_i32(n)) & 0xFFFF_FFFF
        if ptr == 0:
            out.failed_alloc = f"the module could not allocate {n} bytes for the request"
            return
        memory.write(store, request, ptr)
        packed = call(store, _to_i32(ptr), _to_i32(n)) & 0xFFFF_FFFF_FFFF_FFFF
        if packed == 0:
            out.failed_alloc = "the module could not allocate its response"
            return
        out_ptr, out_len = packed >> 32, packed & 0xFFFF_FFFF
        if out_ptr + out_len > memory.data_len(store):
            raise InternalError("the module gave a response buffer outside its memory")
        out.response = bytes(memory.read(store, out_ptr, out_ptr + out_len))
        free(store, _to_i32(out_ptr), _to_i32(out_len))
        free(store, _to_i32(ptr), _to_i32(n))
    except BaseException as e:  # handed to the calling thread
        out.error = e
    finally:
        if memory is not None:
            try:
                out.memory_size = memory.data_len(store)
            except wasmtime.WasmtimeError:
                pass


def call(rt: _Runtime, limits: Limits, request: bytes) -> bytes:
    """Serves one request (UTF-8 JSON) and returns the response bytes, or raises the
    :class:`SvcintentError` subclass of what stopped it."""
    if len(request) >= 1 << 32:
        raise RequestError(f"the request is {len(request)} bytes; the module takes at most 4GiB")
    out = _Outcome()
    with rt.lock:
        # The module runs on a thread of its own whose native stack fits max_stack (like the
        # host runner); this thread is its timer. threading.stack_size is process-wide and only
        # read when a thread starts, so it is set and restored around the start.
        with _stack_size_lock:
            previous = threading.stack_size()
            try:
                threading.stack_size(limits.max_stack + HOST_STACK_MARGIN)
                worker = threading.Thread(
                    target=_run, args=(rt, limits, request, out), name="svcintent-module", daemon=True
                )
                worker.start()
            finally:
                threading.stack_size(previous)
        timed_out = False
        try:
            worker.join(limits.timeout)
            if worker.is_alive():
                timed_out = True
                rt.engine.increment_epoch()
                worker.join()
        except BaseException:
            # KeyboardInterrupt and the like: stop the module, then let it through.
            rt.engine.increment_epoch()
            worker.join()
            raise
    return _result(out, limits, timed_out)


_stack_size_lock = threading.Lock()


def _memory_error(limits: Limits, used: Optional[int], why: str) -> MemoryLimitError:
    had = f"; it had {human_bytes(used)}" if used is not None else ""
    return MemoryLimitError(
        f"the compiler needed more than {human_bytes(limits.max_memory)} of memory ({why}{had}); "
        "raise the limit with Compiler(max_memory=BYTES) (at most 4GiB)",
        limits.max_memory,
        used,
    )


def _result(out: _Outcome, limits: Limits, timed_out: bool) -> bytes:
    if out.response is not None and out.error is None:
        return out.response
    if out.failed_alloc is not None:
        raise _memory_error(limits, out.memory_size, out.failed_alloc)
    e = out.error
    if isinstance(e, SvcintentError):
        raise e
    if isinstance(e, wasmtime.Trap):
        raise _classify_trap(e, out, limits, timed_out) from e
    if isinstance(e, wasmtime.WasmtimeError):
        message = str(e)
        if out.memory_size is None and "exceeds memory limits" in message:
            # Instantiation: the module's initial memory is already over max_memory.
            raise _memory_error(limits, None, f"its initial memory does not fit: {message}") from e
        raise InternalError(f"the compiler module cannot be used: {message}") from e
    if e is not None:
        raise InternalError(f"running the module failed: {type(e).__name__}: {e}") from e
    raise InternalError("the module gave no response")


def _classify_trap(e: wasmtime.Trap, out: _Outcome, limits: Limits, timed_out: bool) -> SvcintentError:
    code = e.trap_code
    if code == wasmtime.TrapCode.OUT_OF_FUEL:
        return FuelExhaustedError(
            f"the compiler ran out of fuel (limit {limits.fuel} units, about one per WebAssembly "
            "instruction); raise it with Compiler(fuel=N) if the site really is this large",
            limits.fuel,
        )
    if code == wasmtime.TrapCode.INTERRUPT or timed_out:
        return TimeLimitError(
            f"the compiler did not finish within {human_seconds(limits.timeout)}; raise the limit "
            "with Compiler(timeout=SECONDS)",
            limits.timeout,
        )
    if code == wasmtime.TrapCode.STACK_OVERFLOW:
        return StackLimitError(
            f"the compiler exhausted its {human_bytes(limits.max_stack)} stack; raise the limit "
            "with Compiler(max_stack=BYTES) (at most 2MiB)",
            limits.max_stack,
        )
    used = out.memory_size
    if code == wasmtime.TrapCode.UNREACHABLE and used is not None and used * 4 >= limits.max_memory:
        # The module never panics on input; its allocator aborts (`unreachable`) when growing
        # memory is refused. wasmtime's Python API reports no refused growth, so a module that
        # stopped this way with at least a quarter of max_memory in use is taken to have hit it
        # (an allocation at most doubles what is in use, plus the request).
        return _memory_error(limits, used, "growing its memory was refused")
    return InternalError(
        f"the compiler module crashed ({code.name.lower() if code else 'trap'}: {e.message}); "
        "this is a bug in svcintent: please report it with the input"
    )
