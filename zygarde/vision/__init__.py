"""Vision: a CNN on an image folder (manifest and quarantine, tensors, networks, training, data-parallel)."""
