"""The engine kinds the shared contract, property, fault and crash tests run against.

Every engine in cairn.storage.ENGINES must be listed here once it exists."""

KINDS = ["log"]
ORDERED_KINDS: list[str] = []
