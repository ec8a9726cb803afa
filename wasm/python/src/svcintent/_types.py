"""The values the API returns: frozen dataclasses that mirror the JSON protocol
(``docs/abi.md``). They carry the compiler's answers as they are; nothing is decided here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from ._errors import InternalError

#: ``"error"`` (blocks rendering), ``"warning"`` or ``"info"``.
Severity = str

#: What a :class:`Change` is about, in the order changes are listed: ``"host"``, ``"service"``,
#: ``"backend"``, ``"drain"``, ``"announce"``, ``"session"``, ``"firewall"``.
ChangeKind = str

#: How a :class:`FileDiff`'s file changes: ``"added"``, ``"removed"`` or ``"changed"``.
FileStatus = str


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InternalError(f"protocol violation: {what} is not a JSON object")
    return value


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InternalError(f"protocol violation: `{key}` is not a string")
    return value


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InternalError(f"protocol violation: `{key}` is not an integer")
    return value


def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise InternalError(f"protocol violation: `{key}` is not a list")
    return value


@dataclass(frozen=True)
class Location:
    """A place in the site: a site-relative file, 1-based lines and character columns (the end
    column is exclusive), and the byte offsets ``start``/``end`` (end exclusive)."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int

    @classmethod
    def from_json(cls, value: Any) -> Location:
        o = _obj(value, "a location")
        return cls(
            file=_str(o, "file"),
            line=_int(o, "line"),
            column=_int(o, "column"),
            end_line=_int(o, "end_line"),
            end_column=_int(o, "end_column"),
            start=_int(o, "start"),
            end=_int(o, "end"),
        )

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Related:
    """Another place a diagnostic points at ("first defined here")."""

    location: Location
    message: str

    @classmethod
    def from_json(cls, value: Any) -> Related:
        o = _obj(value, "a related label")
        return cls(location=Location.from_json(o.get("location")), message=_str(o, "message"))


@dataclass(frozen=True)
class Diagnostic:
    """One finding of the compiler.

    ``code`` is stable (``SI010``), ``name`` its kebab-case name (``unknown-key``),
    ``label`` the text under the primary span (may be empty), ``help`` how to fix it.
    """

    code: str
    name: str
    severity: Severity
    message: str
    location: Location
    label: str = ""
    related: Tuple[Related, ...] = ()
    help: Optional[str] = None

    @classmethod
    def from_json(cls, value: Any) -> Diagnostic:
        o = _obj(value, "a diagnostic")
        help_ = o.get("help")
        if help_ is not None and not isinstance(help_, str):
            raise InternalError("protocol violation: `help` is not a string")
        return cls(
            code=_str(o, "code"),
            name=_str(o, "name"),
            severity=_str(o, "severity"),
            message=_str(o, "message"),
            location=Location.from_json(o.get("location")),
            label=_str(o, "label") if "label" in o else "",
            related=tuple(Related.from_json(r) for r in _list(o, "related")),
            help=help_,
        )

    @property
    def is_error(self) -> bool:
        """Whether this diagnostic blocks rendering."""
        return self.severity == "error"

    def __str__(self) -> str:
        """``file:line:col: severity[CODE]: message``, one line (like compilers print)."""
        return f"{self.location}: {self.severity}[{self.code}]: {self.message}"


@dataclass(frozen=True)
class RenderedFile:
    """One rendered configuration file.

    ``path`` is its place in the output tree (``<host>/<host_path>``, as ``svcintent render``
    writes it), ``host_path`` the absolute path on ``host``, ``target`` the generator
    (``haproxy``, ``bird``, ``healthchecker``, ``loopback``, ``nftables``, ``icinga2``,
    ``apache``), ``services`` the services that contributed to it.
    """

    path: str
    host: str
    host_path: str
    target: str
    contents: str
    services: Tuple[str, ...] = ()

    @classmethod
    def from_json(cls, value: Any) -> RenderedFile:
        o = _obj(value, "a rendered file")
        services = _list(o, "services")
        if not all(isinstance(s, str) for s in services):
            raise InternalError("protocol violation: `services` holds a non-string")
        return cls(
            path=_str(o, "path"),
            host=_str(o, "host"),
            host_path=_str(o, "host_path"),
            target=_str(o, "target"),
            contents=_str(o, "contents"),
            services=tuple(services),
        )


@dataclass(frozen=True)
class Rendered:
    """A successful render: every host's files (in the compiler's order), the manifest (the
    JSON object ``svcintent render`` writes as ``manifest.json``) and the diagnostics that did
    not block rendering (warnings, infos)."""

    files: Tuple[RenderedFile, ...]
    manifest: Dict[str, Any]
    diagnostics: Tuple[Diagnostic, ...] = ()

    def hosts(self) -> Tuple[str, ...]:
        """The hosts that get at least one file, in the compiler's order."""
        seen: Dict[str, None] = {}
        for f in self.files:
            seen.setdefault(f.host, None)
        return tuple(seen)

    def for_host(self, host: str) -> Dict[str, str]:
        """``{host_path: contents}`` of the files of ``host`` (empty for an unknown host)."""
        return {f.host_path: f.contents for f in self.files if f.host == host}

    def tree(self) -> Dict[str, str]:
        """``{tree path: contents}`` of every file of the output tree, ``manifest.json``
        included: what ``svcintent render`` writes below its output directory."""
        out = {f.path: f.contents for f in self.files}
        out["manifest.json"] = self.manifest_json()
        return out

    def manifest_json(self) -> str:
        """``manifest.json`` as ``svcintent render`` writes it: the manifest pretty-printed
        (two spaces, the compiler's key order) with a trailing newline."""
        return json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Change:
    """One statement about what a change does on the network (``drains web2 from www``,
    ``opens 636/tcp from anywhere on lb1..lb3 (to 192.0.2.36)``), with its ``kind``:
    ``host`` (hosts added, removed, given other roles or addresses), ``service`` (services added
    or removed, their balancing, VIPs and ports), ``backend`` (backends and anycast nodes added
    or removed, weights), ``drain`` (hosts, and hosts within a service, drained or undrained),
    ``announce`` (VIPs announced or withdrawn, per service and announcing hosts), ``session``
    (BGP sessions), ``firewall`` (openings and closings per port and source)."""

    kind: ChangeKind
    summary: str

    @classmethod
    def from_json(cls, value: Any) -> Change:
        o = _obj(value, "a change")
        return cls(kind=_str(o, "kind"), summary=_str(o, "summary"))

    def __str__(self) -> str:
        """``kind      summary``, as ``svcintent diff`` prints it."""
        return f"{self.kind:<9} {self.summary}"


@dataclass(frozen=True)
class FileDiff:
    """One rendered file that changes: its ``path`` in the output tree (``<host>/<host_path>``),
    its ``status`` (``added``, ``removed`` or ``changed``) and the ``unified`` diff (``--- a/<path>``
    / ``+++ b/<path>``, ``/dev/null`` for the side of an added or removed file, 3 lines of
    context)."""

    path: str
    status: FileStatus
    unified: str

    @classmethod
    def from_json(cls, value: Any) -> FileDiff:
        o = _obj(value, "a file diff")
        return cls(path=_str(o, "path"), status=_str(o, "status"), unified=_str(o, "unified"))


@dataclass(frozen=True)
class SiteDiff:
    """What changes from one site to another: the ``changes`` (grouped by kind in the order of
    :data:`ChangeKind`, sorted within a kind), the rendered ``files`` that change (sorted by
    path) and the new site's diagnostics that did not block it (warnings, infos)."""

    changes: Tuple[Change, ...]
    files: Tuple[FileDiff, ...]
    diagnostics: Tuple[Diagnostic, ...] = ()

    @classmethod
    def from_json(cls, value: Any, diagnostics: Tuple[Diagnostic, ...] = ()) -> SiteDiff:
        o = _obj(value, "a diff")
        return cls(
            changes=tuple(Change.from_json(c) for c in _list(o, "changes")),
            files=tuple(FileDiff.from_json(f) for f in _list(o, "files")),
            diagnostics=diagnostics,
        )

    @property
    def is_empty(self) -> bool:
        """Whether nothing changes."""
        return not self.changes and not self.files

    def unified(self) -> str:
        """The unified diffs of every changed file, one after the other (a patch)."""
        return "".join(f.unified for f in self.files)


@dataclass(frozen=True)
class VersionInfo:
    """Versions of the pieces that answer a call."""

    #: What the module says (``svcintent-core 0.1.0 (protocol 1)``).
    core: str
    #: Version of this Python package.
    package: str
    #: The wasm ABI version the module speaks (``svcintent_abi_version()``).
    abi: int
    #: The JSON protocol version this package speaks.
    protocol: int
    #: The wasmtime Python package that runs the module.
    wasmtime: str
    #: SHA-256 of the bundled module (hex); ``svcintent version`` prints the same for its own.
    module_sha256: str

    def __str__(self) -> str:
        return (
            f"{self.core}; svcintent (Python) {self.package}, wasmtime {self.wasmtime}, "
            f"ABI {self.abi}, module sha256 {self.module_sha256}"
        )
