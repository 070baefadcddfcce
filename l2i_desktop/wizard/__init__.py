"""Train > New interpreter...: a wizard that does what ``l2i train`` does, page by page."""

from l2i_desktop.wizard.wizard import TrainWizard

__all__ = ["TrainWizard"]
