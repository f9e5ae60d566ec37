"""Self-check quizzes: questions, attempts with snapshots, grading. Knows nothing of attendance."""
