"""Tables of this part."""
