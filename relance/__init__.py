"""Relance: invoice collection engine, one durable Temporal workflow per unpaid invoice."""
