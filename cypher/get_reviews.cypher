// Store.get_reviews: items with $status, highest priority first.
MATCH (r:Review {status: $status})
RETURN r {.*} AS review
ORDER BY r.priority DESC, r.created_at, r.id
LIMIT $limit
