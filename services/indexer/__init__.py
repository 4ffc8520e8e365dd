"""indexer: news.unique → Elasticsearch. Each article once, by id, through any failure."""
