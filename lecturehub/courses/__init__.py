"""Courses, lectures, key points, materials and the content importer. Knows nothing of who came."""
