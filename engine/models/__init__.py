"""Networks: the built-in classifier, hidden-layer taps, user classifiers and the
interpreter (Psi, Theta)."""
