"""A shop's exports: one view per way a Django response can stream or not."""
