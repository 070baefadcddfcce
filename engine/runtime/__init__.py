"""What every layer leans on: errors, progress and cancellation, child processes,
devices, output checks and atomic replacement. Imports nothing else of the engine."""
