"""The composition root: the one place that chooses adapters and hands them to services.

Which adapters run is configuration (``Settings``), decided here once per process. Everything else
depends inward: handlers, the API and the CLI ask these modules for ready-made services; services talk to
ports only; adapters implement ports and know nothing of services.
"""
