"""The HTTP edge every feature uses: app frame, error shape, limits, auth, the event stream, the core's routes."""
