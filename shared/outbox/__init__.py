"""The notification log: one intake (claim or update), the send-or-not decision table, leases, outcomes, retention."""
