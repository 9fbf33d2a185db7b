"""The OpenAPI document: the route table (`operations`) over the declared shapes.

To add an endpoint: its handler in ``ledger/api/<area>.py``, its route in
`ledger.api.app.routes` (a crawler's page: `page_routes` and `page_operations`),
its shapes in ``ledger/api/schemas/<area>.py`` and its
`Operation` in ``ledger/api/openapi/<area>.py``; ``tests/unit/api/test_openapi.py``
fails until the route and the operation agree.
"""

from ledger.api.openapi.document import openapi_document, operations, page_operations
from ledger.api.openapi.operation import Operation

__all__ = ["Operation", "openapi_document", "operations", "page_operations"]
