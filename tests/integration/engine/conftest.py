from engine_support import runtime  # noqa: F401  (fixture)
