"""What two or more newsflow stages need: messages, topics, codec, settings, sources."""
