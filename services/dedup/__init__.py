"""dedup: news.clean → news.unique. Exact and near duplicates are recognised; stories get ids."""
