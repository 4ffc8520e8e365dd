"""A local demo site: fictional outlets with feeds and article pages, served on loopback."""
