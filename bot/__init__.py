"""Rollout Pulse: wiring (settings, app factory, HTTP server, scheduler, sender, CLI)."""
