"""The engines behind the timers: ingestion-window scans, periodic checks, the metric scan; one workspace = one unit."""
