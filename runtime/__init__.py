"""Neutral pieces every layer may import: the clock, background work, time zones. Imports nothing of ours."""
