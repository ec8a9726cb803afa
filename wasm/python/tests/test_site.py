"""load_site reads a directory like the svcintent command (host-runner/src/site.rs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import CAMPUS

import svcintent


def test_campus() -> None:
    site = svcintent.load_site(CAMPUS)
    assert list(site) == [
        "hosts.yaml",
        "services/directory.yaml",
        "services/infra.yaml",
        "services/mail.yaml",
        "services/web.yaml",
        "site.yaml",
    ]
    assert site.root == CAMPUS
    assert site["site.yaml"] == (CAMPUS / "site.yaml").read_text(encoding="utf-8")


def test_rules(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.yml").write_bytes(b"a: 1\r\n")
    (tmp_path / "a.yaml").write_text("a: 2\n")
    (tmp_path / "notes.txt").write_text("not yaml\n")
    (tmp_path / "upper.YAML").write_text("not matched, like the CLI\n")
    (tmp_path / ".hidden.yaml").write_text("skipped\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "c.yaml").write_text("skipped\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "o.yaml").write_text("o: 1\n")
    os.symlink(outside, tmp_path / "linked-dir")
    os.symlink(outside / "o.yaml", tmp_path / "linked.yaml")
    os.symlink(tmp_path / "missing", tmp_path / "dangling.yaml")
    site = svcintent.load_site(tmp_path)
    assert dict(site) == {"a.yaml": "a: 2\n", "b/x.yml": "a: 1\r\n", "linked.yaml": "o: 1\n"}
    assert list(site) == ["a.yaml", "b/x.yml", "linked.yaml"]


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_bytes(b"site: caf\xe9\n")
    with pytest.raises(svcintent.SiteError, match=r"not UTF-8 text \(invalid byte at offset 9\)"):
        svcintent.load_site(tmp_path)


def test_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("site: {}\n")
    with pytest.raises(svcintent.SiteError, match="is not a directory"):
        svcintent.load_site(tmp_path / "site.yaml")
    with pytest.raises(svcintent.SiteError, match="No such file"):
        svcintent.load_site(tmp_path / "missing")


def test_crlf_site_renders_like_lf(tmp_path: Path, campus: svcintent.Site) -> None:
    for rel, text in campus.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.replace("\n", "\r\n").encode())
    site = svcintent.load_site(tmp_path)
    assert all("\r\n" in t for t in site.values())
    assert svcintent.lint(site) == []
    assert svcintent.render(site).files == svcintent.render(campus).files
