// Neo4jVectorIndex.query: the $keep most similar stored faces of each row, out of the $k that
// Neo4j's index searches for (it yields them best first). The score of a cosine index is
// (1 + cos) / 2; the caller turns it into the L2 distance of unit vectors.
UNWIND $rows AS row
CALL db.index.vector.queryNodes('face_embedding', $k, row.v) YIELD node, score
WITH row, collect(node.id) AS ids, collect(score) AS scores
RETURN row.i AS i, ids[..$keep] AS ids, scores[..$keep] AS scores
