"""The domain every stage speaks: :class:`~melodygen.music.melody.Melody`, keys, conditions, and rendering a melody to MIDI, WAV and PNG."""
