"""iportal: an invoice distribution and document portal."""

__version__ = "0.1.0"
