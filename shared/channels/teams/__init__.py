"""The Teams channel: an Adaptive Card to a Workflows webhook (issue 14)."""
