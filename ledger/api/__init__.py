"""HTTP only: the aiohttp app factory, routes and handlers per area, the mapping of
domain errors to HTTP answers, and the request/response schemas behind the OpenAPI document."""
