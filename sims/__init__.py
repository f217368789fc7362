"""Local simulators for Zscaler (ZIA, ZPA), Mimecast and the identity providers around them."""

__version__ = "0.1.0"
