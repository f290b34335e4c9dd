"""Training: one engine (engine.py) for every training stage; what differs per model id is its declaration in
attdistill.methods."""
