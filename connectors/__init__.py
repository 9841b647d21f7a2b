"""One module per feed. Each defines exactly one ``biotracker.ingest.connector.Connector`` subclass
whose ``name`` equals the module name; the registry finds it, the conformance kit tests it."""
