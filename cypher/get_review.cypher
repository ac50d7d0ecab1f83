// Store.get_review
MATCH (r:Review {id: $id})
RETURN r {.*} AS review
