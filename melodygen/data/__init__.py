"""The data path: MIDI files → Melody → encoded arrays → batches."""
