"""The Block Kit builders of handlers/blocks, one test module each, driven at their limits."""
