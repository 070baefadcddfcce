"""Model bundles: the manifest, safe reading and writing (never unpickles)."""
