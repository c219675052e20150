"""Plain values and helpers, no I/O: KQL literals, log cells, ARM resource ids, Azure ML links, safe links, setting
values, secret redaction."""
