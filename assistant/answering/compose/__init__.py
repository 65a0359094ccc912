"""Answer composers: turn retrieved papers into cited answer text."""
