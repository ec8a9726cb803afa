"""Each limit of Compiler is hit cleanly, with its own exception naming its setting, and the
next call works (every call gets a fresh store and instance)."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

import svcintent
from svcintent import Compiler


def next_call_works(campus: svcintent.Site, limited: Compiler) -> None:
    assert limited.version().core.startswith("svcintent-core ")
    assert svcintent.render(campus).files
    assert svcintent.lint(campus) == []


def test_fuel(campus: svcintent.Site) -> None:
    limited = Compiler(fuel=1_000_000)
    with pytest.raises(svcintent.FuelExhaustedError) as info:
        limited.render(campus)
    e = info.value
    assert isinstance(e, svcintent.LimitError) and isinstance(e, svcintent.SvcintentError)
    assert (e.setting, e.limit) == ("fuel", 1_000_000)
    assert "ran out of fuel (limit 1000000 units" in str(e) and "Compiler(fuel=" in str(e)
    next_call_works(campus, limited)
    # Fuel is per call: the limited compiler fails the same way again, not worse.
    with pytest.raises(svcintent.FuelExhaustedError):
        limited.render(campus)


def test_memory_while_running(campus: svcintent.Site) -> None:
    limited = Compiler(max_memory=2 << 20)
    with pytest.raises(svcintent.MemoryLimitError) as info:
        limited.render(campus)
    e = info.value
    assert (e.setting, e.limit) == ("max_memory", 2 << 20)
    assert e.used is not None and e.used <= 2 << 20
    assert "more than 2MiB of memory" in str(e) and "Compiler(max_memory=" in str(e)
    next_call_works(campus, limited)


def test_memory_below_the_initial_size(campus: svcintent.Site) -> None:
    limited = Compiler(max_memory=64 << 10)
    with pytest.raises(svcintent.MemoryLimitError) as info:
        limited.version()
    assert info.value.used is None
    assert "more than 64KiB of memory" in str(info.value)
    assert svcintent.version().abi == 2


def campus_with_many_services(campus: svcintent.Site, count: int) -> dict[str, str]:
    """Campus plus ``count`` small http services on its web hosts (IPv6 VIPs): a site that
    lints clean and takes far longer to render than campus alone."""
    lines = ["services:"]
    for i in range(count):
        lines += [
            f"  bulk{i:04}:",
            "    balancing: haproxy",
            "    mode: http",
            f'    vips: ["2001:db8:100::{0x1000 + i:x}"]',
            "    ports: [80/tcp]",
            "    backend_port: 8080",
            f"    backends: [web{i % 4 + 1}, web{(i + 1) % 4 + 1}]",
        ]
    return {**campus, "services/bulk.yaml": "\n".join(lines) + "\n"}


def test_timeout(campus: svcintent.Site) -> None:
    # A render that takes long in the module (measured: 0.7 s here, idle), so that a 20 ms
    # limit is hit however fast the machine is; campus alone renders in about 20-35 ms, which
    # a 20 ms limit no longer reliably interrupts.
    heavy = campus_with_many_services(campus, 1000)
    assert svcintent.lint(heavy) == []
    limited = Compiler(timeout=0.02)
    start = time.monotonic()
    with pytest.raises(svcintent.TimeLimitError) as info:
        limited.render(heavy)
    elapsed = time.monotonic() - start
    e = info.value
    assert (e.setting, e.limit) == ("timeout", 0.02)
    assert "did not finish within 20ms" in str(e) and "Compiler(timeout=" in str(e)
    # Stopped, not hung: the error itself shows the epoch tick interrupted the module (the
    # render would otherwise have succeeded).
    assert elapsed < 10, elapsed
    next_call_works(campus, limited)


def test_stack_and_the_compiled_module_cache(campus: svcintent.Site, tmp_path: Path) -> None:
    limited = Compiler(max_stack=1024, cache_dir=tmp_path / "cache")
    with pytest.raises(svcintent.StackLimitError) as info:
        limited.render(campus)
    e = info.value
    assert (e.setting, e.limit) == ("max_stack", 1024)
    assert "exhausted its 1KiB stack" in str(e)
    next_call_works(campus, Compiler())
    # The module compiled for that stack size was cached, readable by this user only.
    [cached] = list((tmp_path / "cache").glob("python-module-*.cwasm"))
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    assert cached.read_bytes().startswith(b"svcintent-pycwasm1")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fuel": 0},
        {"fuel": True},
        {"max_memory": 0},
        {"max_memory": (4 << 30) + 1},
        {"timeout": 0},
        {"timeout": -1.0},
        {"max_stack": 0},
        {"max_stack": (2 << 20) + 1},
    ],
)
def test_limits_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Compiler(**kwargs)  # type: ignore[arg-type]


def test_defaults_are_the_host_runners() -> None:
    c = Compiler()
    assert (c.fuel, c.max_memory, c.timeout) == (10**12, 3 << 30, 600.0)
    assert c.max_stack == 2 << 20
