"""The package the original director loads in L5 (one idle actor)."""
