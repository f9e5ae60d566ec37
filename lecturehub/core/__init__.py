"""Shared core: base types, permissions, time, Markdown, layout. Uses no domain package."""
