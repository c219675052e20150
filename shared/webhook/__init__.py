"""The alert webhook: parse, authenticate, de-duplicate, enrich, record through the intake, answer fast."""
