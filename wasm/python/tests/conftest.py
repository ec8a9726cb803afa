"""Shared fixtures. The tests run against the installed package (``pip install ./wasm/python``,
which bundles ``target/wasm/svcintent.wasm``), on the repository's own example, fixtures and
golden tree."""

from __future__ import annotations

from pathlib import Path

import pytest

import svcintent

REPO = Path(__file__).resolve().parents[3]
CAMPUS = REPO / "examples" / "campus"
GOLDEN = REPO / "tests" / "golden" / "campus"
INVALID = REPO / "tests" / "fixtures" / "invalid"


@pytest.fixture(scope="session")
def campus() -> svcintent.Site:
    return svcintent.load_site(CAMPUS)


@pytest.fixture(scope="session")
def compiler() -> svcintent.Compiler:
    return svcintent.Compiler()


def fixture(name: str) -> svcintent.Site:
    """A site of tests/fixtures/invalid/."""
    return svcintent.load_site(INVALID / name)
