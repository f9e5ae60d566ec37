"""Report tables and their downloads: the writer lives in core.exports (quizzes' analysis uses it too)."""
from lecturehub.core.exports import FORMATS, Column, Table, download, to_csv, to_xlsx

__all__ = ["FORMATS", "Column", "Table", "download", "to_csv", "to_xlsx"]
