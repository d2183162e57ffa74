"""``mabeam run`` (called here to compare with sweep rows) configures structlog for the
command line; give the next test the defaults back, as tests/test_cli.py does."""

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
