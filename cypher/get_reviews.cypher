// Store.get_reviews: items with $status (all when null), highest priority first.
MATCH (r:Review)
WHERE $status IS NULL OR r.status = $status
RETURN r {.*} AS review
ORDER BY r.priority DESC, r.created_at, r.id
LIMIT $limit
