"""The hall itself: settings, the pure rules and state machine, and the one write path. Imports no feature."""
