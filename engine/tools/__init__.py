"""Tools built on explanations: SLIME, corruption, timelines, live input, batch
explaining and the batch report."""
