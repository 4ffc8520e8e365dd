"""cleaner: news.raw → news.clean. Fetched pages become article text and metadata."""
