// Store.review_statuses: the status of each known review item among $ids (unknown ids are left out).
UNWIND $ids AS id
MATCH (r:Review {id: id})
RETURN r.id AS id, r.status AS status
