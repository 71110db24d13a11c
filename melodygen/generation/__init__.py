"""Sampling melodies from a model: ancestral sampling, beam search, primers and conditions."""
