"""Live: tracking of predictions and trades, performance, risk and volume leaders."""
