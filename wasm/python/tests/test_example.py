"""The Ansible filter plugin of docs/python.md (examples/ansible_filter.py), imported the way
Ansible loads it (a file by path), so that it cannot rot."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from conftest import CAMPUS, GOLDEN, INVALID

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ansible_filter.py"


def load_plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("svcintent_ansible_filter", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_host_files_are_the_golden_ones() -> None:
    filters = load_plugin().FilterModule().filters()
    assert set(filters) == {"svcintent_host_files", "svcintent_lint"}
    items = filters["svcintent_host_files"](str(CAMPUS), "lb1")
    want = sorted(p for p in (GOLDEN / "lb1").rglob("*") if p.is_file())
    assert [i["path"] for i in items] == ["/" + p.relative_to(GOLDEN / "lb1").as_posix() for p in want]
    for item, path in zip(items, want):
        assert item["content"].encode() == path.read_bytes()
    haproxy = next(i for i in items if i["path"] == "/etc/haproxy/haproxy.cfg")
    assert haproxy["target"] == "haproxy" and "www" in haproxy["services"]


def test_unknown_host() -> None:
    plugin = load_plugin()
    with pytest.raises(plugin.AnsibleFilterError, match="no file for host 'nope'"):
        plugin.svcintent_host_files(str(CAMPUS), "nope")
    assert plugin.svcintent_host_files(str(CAMPUS), "nope", missing_ok=True) == []


def test_errors_name_file_line_and_code() -> None:
    plugin = load_plugin()
    site = str(INVALID / "SI010_unknown_key_with_suggestion")
    with pytest.raises(plugin.AnsibleFilterError) as info:
        plugin.svcintent_host_files(site, "lb1")
    assert "site.yaml:13:5: error[SI010]: unknown key `prots` in service `www`" in str(info.value)
    assert plugin.svcintent_lint(site) == [
        "site.yaml:13:5: error[SI010]: unknown key `prots` in service `www`"
    ]
    assert plugin.svcintent_lint(str(CAMPUS)) == []
