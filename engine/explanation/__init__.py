"""Explaining one clip: activations, relevance, masks, synthesis, metrics, focus."""
