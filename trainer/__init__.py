"""Learning for L2I: datasets, dictionaries, classifiers, interpreters, evaluation, CLI.

Imports the engine, never Qt: every long function takes a TaskState for progress and
cancellation so the desktop wizard can run it in a worker thread.
"""
