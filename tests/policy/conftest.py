"""The gateway fixtures (tests/gateway/conftest.py) for the policy's end-to-end tests through the gateway."""

from tests.gateway.conftest import committed, engine1, gateway, test_database

__all__ = ["committed", "engine1", "gateway", "test_database"]
