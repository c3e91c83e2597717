"""Bundled data of the core: JSON-LD contexts and the static loader, JSON Schemas, the
municipality table.  Pure data and lookups; nothing here touches the network or the clock."""
