"""The L2I Desktop application (Qt). Imports engine and trainer; they never import it."""
