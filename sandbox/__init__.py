"""The embedded sandbox: fictitious patients today; the local DMP host and virtual cards later."""
