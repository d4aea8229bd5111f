"""HTTP routers. They parse, authorize and translate; the work happens in the services."""
