"""Main and branch venues: the rooms where members watch a lecture."""
