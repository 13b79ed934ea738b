from cloud_handler_support import machines, queue, service, store  # noqa: F401  (fixtures)
