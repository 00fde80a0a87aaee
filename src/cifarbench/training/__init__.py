"""Training: recipes (what to train), optim (how to step), trainer (the one loop)."""
