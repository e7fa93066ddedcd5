"""cairn.encoding: codecs, schemas, schema evolution and a schema registry (DDIA ch. 4).

Stands alone: it imports no other cairn layer, and every layer may use it.
"""

from cairn.encoding.jsonlimits import JsonTooDeep, loads_bounded

__all__ = ["JsonTooDeep", "loads_bounded"]
