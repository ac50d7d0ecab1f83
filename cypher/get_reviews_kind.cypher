// Store.get_reviews(kind=...): items of one kind with $status, highest priority first
// (the review queue reads each kind's best and weighs them, review.py).
MATCH (r:Review {status: $status, kind: $kind})
RETURN r {.*} AS review
ORDER BY r.priority DESC, r.created_at, r.id
LIMIT $limit
