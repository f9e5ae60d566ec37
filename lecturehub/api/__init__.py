"""The kiosk API (/api/v1) and the offline desk built on it; both call the attendance services."""
