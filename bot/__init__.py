"""Chat assistant of a provincial Public Administrative Service Center."""

__version__ = "0.1.0"
