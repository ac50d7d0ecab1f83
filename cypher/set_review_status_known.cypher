// Store.set_review_status (check): the stored review ids among $ids.
UNWIND $ids AS id
MATCH (r:Review {id: id})
RETURN r.id AS id
