"""Clouds behind one interface; `base` holds what every provider declares."""
