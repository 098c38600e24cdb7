"""Analytics engine: bounded query executor, scoped custom-SQL guard, curated categories and health metrics."""
