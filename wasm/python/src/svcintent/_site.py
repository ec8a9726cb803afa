"""Reading a site directory the way the ``svcintent`` command does (``host-runner/src/site.rs``):
every ``*.yaml``/``*.yml`` file below it, hidden entries (names starting with ``.``) skipped,
symlinked files followed but symlinked directories not, site-relative ``/`` paths, sorted,
read as UTF-8 bytes (no newline translation)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, List, Mapping, Tuple, Union

from ._errors import SiteError

StrPath = Union[str, "os.PathLike[str]"]


class Site(Mapping[str, str]):
    """The YAML files of a site: a read-only mapping ``{site-relative path: text}`` in sorted
    path order, plus the directory it was read from (``root``)."""

    def __init__(self, root: Path, files: Mapping[str, str]) -> None:
        self.root = root
        self._files = dict(sorted(files.items()))

    def __getitem__(self, path: str) -> str:
        return self._files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __repr__(self) -> str:
        return f"Site({str(self.root)!r}, {len(self)} files)"


def _is_yaml(name: str) -> bool:
    # Like Rust's Path::extension: the part after the last dot of a name that does not start
    # with it (hidden names are skipped before this is asked).
    return os.path.splitext(name)[1] in (".yaml", ".yml")


def _display(name: str) -> str:
    # Like Rust's to_string_lossy: undecodable bytes of a file name become U+FFFD.
    return os.fsencode(name).decode("utf-8", "replace")


def _walk(root: str, rel: Tuple[str, ...], out: List[Tuple[str, str]]) -> None:
    here = os.path.join(root, *rel)
    try:
        entries = list(os.scandir(here))
    except OSError as e:
        raise SiteError(f"cannot read {here}: {e.strerror or e}") from e
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                _walk(root, rel + (entry.name,), out)
            elif _is_yaml(entry.name) and entry.is_file(follow_symlinks=True):
                out.append(("/".join(_display(p) for p in rel + (entry.name,)), entry.path))
        except OSError as e:
            raise SiteError(f"cannot read {entry.path}: {e.strerror or e}") from e


def load_site(path: StrPath) -> Site:
    """Reads the site in the directory ``path``: every ``*.yaml``/``*.yml`` file below it.

    Raises :class:`SiteError` when ``path`` is not a directory, a file cannot be read, or a
    file is not UTF-8 (with the offset of the first bad byte).
    """
    root = Path(path)
    try:
        is_dir = root.is_dir()
        exists = root.exists()
    except OSError as e:
        raise SiteError(f"cannot read {root}: {e.strerror or e}") from e
    if not exists:
        raise SiteError(f"cannot read {root}: No such file or directory")
    if not is_dir:
        raise SiteError(
            f"{root} is not a directory; give the site's directory (the one with the `site:` file)"
        )
    found: List[Tuple[str, str]] = []
    _walk(os.fspath(root), (), found)
    found.sort()
    files = {}
    for rel, full in found:
        try:
            with open(full, "rb") as f:
                data = f.read()
        except OSError as e:
            raise SiteError(f"cannot read {full}: {e.strerror or e}") from e
        try:
            files[rel] = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SiteError(
                f"{full} is not UTF-8 text (invalid byte at offset {e.start}); svcintent reads "
                "UTF-8 YAML: convert the file, e.g. with iconv"
            ) from e
    return Site(root, files)
