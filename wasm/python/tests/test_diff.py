"""diff: what changes from one version of examples/campus to another, as statements and as the
unified diff of each rendered file; a site with errors raises SvcintentError with its
diagnostics."""

from __future__ import annotations

import re

import pytest
from conftest import fixture

import svcintent
from svcintent import Change, FileDiff, SiteDiff


def edited(site: svcintent.Site, path: str, old: str, new: str) -> dict[str, str]:
    """``site`` with ``old`` replaced by ``new`` in ``path`` (which holds it exactly once)."""
    files = dict(site)
    assert files[path].count(old) == 1, f"{path} holds {old!r} once"
    files[path] = files[path].replace(old, new)
    return files


def test_a_site_against_itself_changes_nothing(campus: svcintent.Site) -> None:
    d = svcintent.diff(campus, campus)
    assert d == SiteDiff(changes=(), files=(), diagnostics=())
    assert d.is_empty
    assert d.unified() == ""


def test_draining_a_host(campus: svcintent.Site) -> None:
    drained = edited(
        campus, "hosts.yaml", "web2:  { roles: [web], ipv4", "web2:  { roles: [web], drain: true, ipv4"
    )
    d = svcintent.diff(campus, drained)
    assert d.changes == (Change(kind="drain", summary="drains web2"),)
    assert str(d.changes[0]) == "drain     drains web2"
    assert not d.is_empty and d.diagnostics == ()
    paths = [f.path for f in d.files]
    assert paths == sorted(paths)
    by_path = {f.path: f for f in d.files}
    for lb in ("lb1", "lb2", "lb3"):
        f = by_path[f"{lb}/etc/haproxy/haproxy.cfg"]
        assert f.status == "changed"
        assert f.unified.startswith(
            f"--- a/{lb}/etc/haproxy/haproxy.cfg\n+++ b/{lb}/etc/haproxy/haproxy.cfg\n@@ "
        )
        assert re.search(r"^-\s+server web2 198\.18\.2\.2:8080 .*$", f.unified, re.M)
        assert re.search(r"^\+\s+server web2 198\.18\.2\.2:8080 .*disabled$", f.unified, re.M)
    for f in d.files:
        assert f.unified.startswith(f"--- a/{f.path}\n+++ b/{f.path}\n"), f.path
        assert re.search(r"^@@ -\d+(,\d+)? \+\d+(,\d+)? @@$", f.unified, re.M), f.path
    assert d.unified() == "".join(f.unified for f in d.files)


def test_a_new_source_in_an_allowance(campus: svcintent.Site, compiler: svcintent.Compiler) -> None:
    allow = 'allow: [198.18.0.0/15, "2001:db8:ff::/48"]\n    backends: [web1, web2]'
    opened = edited(
        campus,
        "services/web.yaml",
        allow,
        allow.replace("198.18.0.0/15, ", "198.18.0.0/15, 203.0.113.0/24, "),
    )
    d = compiler.diff(campus, opened)
    assert d.changes == (
        Change("firewall", "opens 443/tcp from 203.0.113.0/24 on lb1..lb3 (to 192.0.2.11)"),
        Change("firewall", "opens 80/tcp from 203.0.113.0/24 on lb1..lb3 (to 192.0.2.11)"),
    )
    assert [(f.path, f.status) for f in d.files] == [
        (f"{lb}/etc/nftables.conf", "changed") for lb in ("lb1", "lb2", "lb3")
    ]
    lb1 = d.files[0]
    assert isinstance(lb1, FileDiff)
    assert lb1.unified.startswith("--- a/lb1/etc/nftables.conf\n+++ b/lb1/etc/nftables.conf\n@@ ")
    added = [l for l in lb1.unified.splitlines() if l.startswith("+") and not l.startswith("+++")]
    assert [l.strip("+\t ") for l in added] == [
        '192.0.2.11 . tcp . 80 . 203.0.113.0/24 comment "intranet",',
        '192.0.2.11 . tcp . 443 . 203.0.113.0/24 comment "intranet",',
    ]
    assert not [l for l in lb1.unified.splitlines() if l.startswith("-") and not l.startswith("---")]
    # The module-level function with the default limits answers the same.
    assert svcintent.diff(campus, opened) == d
    # Reversed, the change closes what it opened.
    back = svcintent.diff(opened, campus)
    assert [c.summary for c in back.changes] == [
        c.summary.replace("opens", "closes", 1) for c in d.changes
    ]


def test_errors_in_the_new_site_raise_with_its_diagnostics(campus: svcintent.Site) -> None:
    broken = edited(
        campus,
        "services/web.yaml",
        "backends: [web1, web2, web3, web4]",
        "backends: [web1, wbe2, web3, web4]",
    )
    with pytest.raises(svcintent.SvcintentError) as info:
        svcintent.diff(campus, broken)
    e = info.value
    assert type(e) is svcintent.SvcintentError
    assert [(d.code, d.message, d.help) for d in e.diagnostics] == [
        ("SI020", "unknown host `wbe2`", "did you mean `web2`?")
    ]
    assert e.diagnostics[0].location.file == "services/web.yaml"
    assert str(e).startswith("the new site has 1 error(s); first: services/web.yaml:")


def test_errors_in_the_old_site_raise_with_its_diagnostics(campus: svcintent.Site) -> None:
    old = fixture("SI020_unknown_backend_host")
    with pytest.raises(svcintent.SvcintentError) as info:
        svcintent.diff(old, campus)
    e = info.value
    assert type(e) is svcintent.SvcintentError
    assert str(e).startswith("the old site has 1 error(s)")
    assert e.diagnostics == tuple(svcintent.lint(old))
    assert [d.code for d in e.diagnostics] == ["SI020"]


def test_diff_checks_its_arguments(campus: svcintent.Site) -> None:
    with pytest.raises(TypeError, match="files must be a mapping"):
        svcintent.diff(["site.yaml"], campus)  # type: ignore[arg-type]
