"""Users, roles, sign-in and member rosters."""
