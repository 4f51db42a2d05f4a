"""Landing of event files into `raw`, envelope validation, and the event generator."""
