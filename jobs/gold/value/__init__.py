"""Customer value: BG/NBD and Gamma-Gamma fits, predictions and the two marts."""
