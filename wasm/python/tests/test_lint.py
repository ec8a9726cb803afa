"""lint: the example is clean; broken input gives the codes and spans the native snapshots
(tests/tests/snapshots/diagnostics__*) show."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import fixture

import svcintent
from svcintent import Diagnostic, Location, Related


def test_campus_lints_clean(campus: svcintent.Site) -> None:
    assert len(campus) == 6
    assert svcintent.lint(campus) == []


def test_unknown_key_with_suggestion() -> None:
    # snapshot: error[SI010] ... --> site.yaml:13:5, `prots` underlined, help did you mean `ports`?
    [d] = svcintent.lint(fixture("SI010_unknown_key_with_suggestion"))
    assert d == Diagnostic(
        code="SI010",
        name="unknown-key",
        severity="error",
        message="unknown key `prots` in service `www`",
        location=Location(
            file="site.yaml", line=13, column=5, end_line=13, end_column=10,
            start=d.location.start, end=d.location.start + len("prots"),
        ),
        label="",
        related=(),
        help="did you mean `ports`?",
    )
    site = fixture("SI010_unknown_key_with_suggestion")
    text = site["site.yaml"].encode()
    assert text[d.location.start : d.location.end] == b"prots"
    assert d.is_error
    assert str(d) == "site.yaml:13:5: error[SI010]: unknown key `prots` in service `www`"


def test_service_defined_in_two_files_points_at_both() -> None:
    # snapshot: site.yaml:9:3 "defined again here", services/www.yaml:2:3 "first defined here"
    [d] = svcintent.lint(fixture("SI015_service_defined_in_two_files"))
    assert (d.code, d.name, d.severity) == ("SI015", "duplicate-definition", "error")
    assert d.message == "service `www` is defined twice"
    loc = d.location
    assert (loc.file, loc.line, loc.column, loc.end_line, loc.end_column) == ("site.yaml", 9, 3, 9, 6)
    assert d.label == "defined again here"
    assert len(d.related) == 1
    r = d.related[0]
    assert isinstance(r, Related)
    assert (r.location.file, r.location.line, r.location.column) == ("services/www.yaml", 2, 3)
    assert r.message == "first defined here"
    assert d.help == "each service is defined once in the whole site; remove or rename one"


def test_extends_cycle() -> None:
    [d] = svcintent.lint(fixture("SI022_extends_cycle"))
    assert d.code == "SI022"
    assert d.message == "templates extend each other in a cycle: a → b → a"
    loc = d.location
    # Reported once, at the member of the cycle defined first (`a`, line 9).
    assert (loc.file, loc.line, loc.column, loc.end_line, loc.end_column) == ("site.yaml", 9, 17, 9, 18)


def test_warning_is_not_an_error() -> None:
    [d] = svcintent.lint(fixture("SI024_unused_template"))
    assert (d.code, d.severity, d.is_error) == ("SI024", "warning", False)
    assert (d.location.line, d.location.column) == (9, 3)


def test_a_plain_mapping_in_any_order_is_the_same_site(campus: svcintent.Site) -> None:
    broken = dict(fixture("SI015_service_defined_in_two_files"))
    reordered = dict(reversed(list(broken.items())))
    assert list(reordered) != list(broken)
    assert svcintent.lint(reordered) == svcintent.lint(broken)
    assert svcintent.lint(dict(campus)) == []


def test_text_from_memory() -> None:
    site = {"site.yaml": "site:\n  name: x\n  asn: 65000\nservices:\n  www:\n    prots: [80/tcp]\n"}
    found = [d for d in svcintent.lint(site) if d.code == "SI010"]
    assert [(d.message, d.location.line, d.location.column) for d in found] == [
        ("unknown key `prots` in service `www`", 6, 5)
    ]


def test_diagnostics_are_frozen() -> None:
    [d] = svcintent.lint(fixture("SI022_extends_cycle"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.code = "SI000"  # type: ignore[misc]


def test_files_must_be_a_mapping_of_text() -> None:
    with pytest.raises(TypeError, match="mapping"):
        svcintent.lint(["site.yaml"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str"):
        svcintent.lint({"site.yaml": b"site: {}"})  # type: ignore[dict-item]
