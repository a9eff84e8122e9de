"""What the three jobs share: runtime, arguments, lake paths, contracts and the quality engine."""
