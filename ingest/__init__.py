"""Turning input files into normalized Paper records and indexing them."""
