"""What the SQLite and MongoDB stores share: record encoding, page cursors, the rules of updates."""
