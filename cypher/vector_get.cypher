// Neo4jVectorIndex.get_vectors / present: stored embeddings of the faces among $ids
// (the vector only when $with_vector).
UNWIND $ids AS id
MATCH (f:Face {id: id})
WHERE f.embedding IS NOT NULL
RETURN f.id AS id, CASE WHEN $with_vector THEN f.embedding END AS v
