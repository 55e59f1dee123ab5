"""The client tests run with a clean configuration, as the service tests do."""

from ..service.conftest import _clean_env  # noqa: F401  (autouse: no PARALLIZER_* leaks in)
