// Store.get_reviews(status=None): every item, highest priority first.
MATCH (r:Review)
RETURN r {.*} AS review
ORDER BY r.priority DESC, r.created_at, r.id
LIMIT $limit
