"""The audit log: who did what, when and from where. Written to by every package; reads none of them."""
