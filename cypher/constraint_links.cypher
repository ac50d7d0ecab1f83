// Store.constraint_links: active MUST_LINK / CANNOT_LINK touching $ids, each once.
UNWIND $ids AS id
MATCH (:Face {id: id})-[r:MUST_LINK|CANNOT_LINK]-()
WITH DISTINCT r
RETURN type(r) AS type, startNode(r).id AS a, endNode(r).id AS b, r.id AS id
ORDER BY id
