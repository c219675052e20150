"""Thin clients of Azure services on azure-core (Table Storage plumbing, Log Analytics, Metrics, credentials; ARM and
run history next); the Azure SDKs are imported inside the code paths that call them, for cold start."""
