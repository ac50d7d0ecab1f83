// Store.similar_edges: every SIMILAR edge touching $ids, each once, as one record of columns
// (one record instead of one per edge: the driver decodes columns several times faster).
UNWIND $ids AS id
MATCH (:Face {id: id})-[r:SIMILAR]-()
WITH DISTINCT r
RETURN collect(startNode(r).id) AS a, collect(endNode(r).id) AS b,
       collect(r.distance) AS distance, collect(r.weight) AS weight
