// Store.similar_edges: every SIMILAR edge touching $ids, each once.
UNWIND $ids AS id
MATCH (:Face {id: id})-[r:SIMILAR]-()
WITH DISTINCT r
RETURN startNode(r).id AS a, endNode(r).id AS b, r.distance AS distance, r.weight AS weight
