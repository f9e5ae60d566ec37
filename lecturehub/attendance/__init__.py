"""Attendance: check-in windows and codes, records, leave, absence and make-up study."""
