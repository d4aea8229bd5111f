"""The console's pages, one module each (see pdp.console.registry)."""
