"""Moved to explorer.testing.apphost (the benchmarks import it from there). This alias keeps
`from benchmarks.apphost import ...` working until tests/test_hostile_inputs.py imports from the new place;
delete it then."""
from explorer.testing.apphost import (REPO, AppServer, EventCaller, alive, component_id, free_port,  # noqa: F401
                                      rss_mb, shipped_assets_present)
