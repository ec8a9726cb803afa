"""render: the campus example gives the native golden tree (tests/golden/campus) byte for
byte; errors raise SvcintentError with the diagnostics; warnings come back with the files."""

from __future__ import annotations

import json
import pytest
from conftest import GOLDEN, fixture

import svcintent


def golden_files() -> dict[str, bytes]:
    return {
        p.relative_to(GOLDEN).as_posix(): p.read_bytes()
        for p in sorted(GOLDEN.rglob("*"))
        if p.is_file()
    }


def test_campus_matches_the_golden_tree(campus: svcintent.Site) -> None:
    rendered = svcintent.render(campus)
    assert rendered.diagnostics == ()
    golden = golden_files()
    assert len(golden) > 100
    tree = rendered.tree()
    missing = sorted(set(golden) - set(tree))
    extra = sorted(set(tree) - set(golden))
    assert missing == [] and extra == [], f"missing {missing}, extra {extra}"
    for path, want in golden.items():
        if path == "manifest.json":
            continue
        assert tree[path].encode("utf-8") == want, f"{path} differs from the golden file"
    # The manifest: equal as JSON, and byte for byte as manifest_json() prints it.
    assert rendered.manifest == json.loads(golden["manifest.json"])
    assert rendered.manifest_json().encode("utf-8") == golden["manifest.json"]


def test_rendered_files_carry_host_target_and_services(campus: svcintent.Site) -> None:
    rendered = svcintent.render(campus)
    by_path = {f.path: f for f in rendered.files}
    haproxy = by_path["lb1/etc/haproxy/haproxy.cfg"]
    assert (haproxy.host, haproxy.host_path, haproxy.target) == ("lb1", "/etc/haproxy/haproxy.cfg", "haproxy")
    assert "www" in haproxy.services
    # The manifest lists the same files, with the sha256 of each.
    assert [f["path"] for f in rendered.manifest["files"]] == [f.path for f in rendered.files]
    lb1 = rendered.for_host("lb1")
    assert lb1["/etc/haproxy/haproxy.cfg"].encode() == (GOLDEN / "lb1/etc/haproxy/haproxy.cfg").read_bytes()
    assert set(lb1) == {
        "/" + p.relative_to(GOLDEN / "lb1").as_posix() for p in (GOLDEN / "lb1").rglob("*") if p.is_file()
    }
    assert rendered.for_host("no-such-host") == {}
    assert set(rendered.hosts()) == {p.name for p in GOLDEN.iterdir() if p.is_dir()}


def test_errors_raise_with_the_diagnostics() -> None:
    with pytest.raises(svcintent.SvcintentError) as info:
        svcintent.render(fixture("SI010_unknown_key_with_suggestion"))
    e = info.value
    assert type(e) is svcintent.SvcintentError
    assert [d.code for d in e.diagnostics] == ["SI010"]
    assert "site.yaml:13:5: error[SI010]" in str(e)


def test_warnings_do_not_block_rendering() -> None:
    rendered = svcintent.render(fixture("SI024_unused_template"))
    assert [(d.code, d.severity) for d in rendered.diagnostics] == [("SI024", "warning")]
    assert rendered.files


def test_a_compiler_renders_like_the_default(campus: svcintent.Site, compiler: svcintent.Compiler) -> None:
    assert compiler.render(campus) == svcintent.render(campus)


def test_render_is_deterministic_across_threads(campus: svcintent.Site) -> None:
    import threading

    results: list[svcintent.Rendered] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(svcintent.render(campus))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 4
    assert all(r == results[0] for r in results)
