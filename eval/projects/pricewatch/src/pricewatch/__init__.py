"""pricewatch: supplier price quotes, cached in redis, reported in the terminal."""

__version__ = "0.3.0"
