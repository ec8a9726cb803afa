"""Build hook: puts the sandboxed module into the package.

The module is built by ``scripts/build-wasm.sh`` into ``target/wasm/svcintent.wasm`` at the
root of the repository; this hook copies it to ``src/svcintent/svcintent.wasm`` (gitignored)
before hatchling collects the files. ``SVCINTENT_WASM=/path/to/svcintent.wasm`` selects another
module. Building from an sdist (which already carries the module) needs neither.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

WASM_MAGIC = b"\0asm"


class CopyModuleHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        dest = root / "src" / "svcintent" / "svcintent.wasm"
        override = os.environ.get("SVCINTENT_WASM")
        source = Path(override) if override else root.parent.parent / "target" / "wasm" / "svcintent.wasm"
        if source.is_file():
            if source.read_bytes()[:4] != WASM_MAGIC:
                raise RuntimeError(f"{source} is not a WebAssembly module")
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(".wasm.tmp")
            shutil.copyfile(source, tmp)
            os.replace(tmp, dest)
        elif not dest.is_file():
            raise RuntimeError(
                f"no svcintent module at {source}: run scripts/build-wasm.sh first "
                "(or set SVCINTENT_WASM=/path/to/svcintent.wasm)"
            )
