"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.issuer import TestIssuer


@pytest.fixture(scope="session")
def issuer() -> Iterator[TestIssuer]:
    """A trusted issuer whose JWKS is served on a real local port."""
    test_issuer = TestIssuer()
    yield test_issuer
    test_issuer.close()


@pytest.fixture(scope="session")
def rogue_issuer() -> Iterator[TestIssuer]:
    """An issuer the PDP does not trust (its own key, its own JWKS)."""
    test_issuer = TestIssuer(pool_id="us-east-1_RoguePool")
    yield test_issuer
    test_issuer.close()
