"""Markers that start the log messages the self-monitoring alert rules look for (infra/app/self-monitoring.bicep).

The Functions host writes a Python log record to Application Insights `traces` with its formatted message and its
level as `severityLevel` (WARNING 2, ERROR 3), but not the logger's name; so the contract is the start of the
message: the marker, one space, then the sentence the KQL parses (infra/app/queries/app-insights/*.kql).
tests/integration/test_self_monitoring.py runs those queries over the records the code really emits.
"""

# ERROR, once per notice the outbox gives up on: "<marker> Giving up on <incident key> after <n> attempts: <error>".
NOTICE_DEAD = "AML_ALERTS_NOTICE_DEAD"

# WARNING, or ERROR when a person must act (401/403/404), once per workspace a scan tick could not read:
# "<marker> <scan>: Log Analytics workspace <workspace id> not read, the next tick reads it again: <reason>".
SCAN_FAILED = "AML_ALERTS_SCAN_FAILED"
