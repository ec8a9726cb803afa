"""explain, schema, version, trace: the other operations of the protocol."""

from __future__ import annotations

import hashlib

import pytest
from conftest import REPO

import svcintent


def test_explain() -> None:
    text = svcintent.explain("SI010")
    assert text.startswith("## SI010 unknown-key")
    assert svcintent.explain("unknown-key") == text


def test_explain_unknown_code() -> None:
    with pytest.raises(svcintent.RequestError, match="unknown diagnostic code"):
        svcintent.explain("SI999")


def test_schema() -> None:
    schema = svcintent.schema()
    assert "$schema" in schema
    assert {"site", "services"} <= set(schema["properties"])


def test_version_names_the_bundled_module() -> None:
    v = svcintent.version()
    assert v.core.startswith("svcintent-core ") and "(protocol 1)" in v.core
    assert (v.abi, v.protocol) == (2, 1)
    assert v.package == "0.1.0"
    assert v.wasmtime.startswith("50.")
    built = REPO / "target" / "wasm" / "svcintent.wasm"
    # The installed package carries the module scripts/build-wasm.sh built.
    assert v.module_sha256 == hashlib.sha256(built.read_bytes()).hexdigest()


def test_trace(campus: svcintent.Site) -> None:
    text = svcintent.trace(campus, "www")
    assert text.startswith("www:")
    assert "site.yaml:" in text


def test_trace_unknown_service(campus: svcintent.Site) -> None:
    with pytest.raises(svcintent.RequestError, match="no service `nope`"):
        svcintent.trace(campus, "nope")


def test_raw_protocol_call() -> None:
    response = svcintent.default_compiler().call({"op": "version"})
    assert response["ok"] is True and response["version"] == 1
    bad = svcintent.default_compiler().call({"op": "frobnicate"})
    assert bad["ok"] is False and "malformed request" in bad["error"]


def test_text_that_is_not_unicode_is_refused() -> None:
    with pytest.raises(svcintent.RequestError, match="not valid Unicode"):
        svcintent.lint({"site.yaml": "site: \udcff"})
