"""Thin clients of Azure services on azure-core (Table Storage plumbing, Log Analytics, Metrics, ARM, run history,
log blobs, credentials), with budgets and typed answers; the Azure SDKs are imported inside the code paths that call
them, for cold start."""
