"""Upload validation as pure functions: no web, no database. The service calls them in a worker thread."""
