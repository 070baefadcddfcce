"""The names of dataset layouts that more than one module needs, in a module that imports
nothing (trainer.datasets reads them; trainer.unlabelled is imported by the parser)."""

UNLABELLED = "unlabelled"  # any folder of audio, its labels not read (--unlabelled)
