"""fetcher: news.feeds → news.raw. Polls the sources of its partitions and fetches new articles."""
