"""Evaluation: video-level scores, accuracy metrics, localisation, tables and figures."""
