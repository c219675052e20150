"""Thin clients for Azure services on azure-core: pipelines, budgets, and typed answers instead of exceptions."""
