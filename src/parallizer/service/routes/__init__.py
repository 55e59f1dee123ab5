"""The HTTP routes, one router per concern: fulfill (and its stream), the feed, files,
health and metrics."""
