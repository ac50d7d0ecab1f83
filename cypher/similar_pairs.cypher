// Store.similar_pairs: every SIMILAR edge touching $ids, each once, as one record of columns,
// without the weights (the region reads tens of thousands of edges; a column fewer to decode).
UNWIND $ids AS id
MATCH (:Face {id: id})-[r:SIMILAR]-()
WITH DISTINCT r
RETURN collect(startNode(r).id) AS a, collect(endNode(r).id) AS b, collect(r.distance) AS distance
