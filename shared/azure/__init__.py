"""Thin clients of Azure services (Table Storage, Log Analytics, Metrics, credentials); Azure SDKs imported lazily."""
