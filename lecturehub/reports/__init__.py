"""Read-only reports over attendance, quizzes and study hours, with exports and charts. Nothing uses reports."""
