"""Measuring melodies and models: sample statistics, whether samples have what was asked for, scoring held-out melodies and note-by-note prediction."""
