"""Consensus protocols: voting, Raft and the replicated key-value store built on it."""
