"""The engine: durable runs on DBOS, and the pure decisions that steer them."""
