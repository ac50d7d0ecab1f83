// Neo4jVectorIndex.__len__: faces that carry an embedding (the ones the vector index holds).
MATCH (f:Face)
WHERE f.embedding IS NOT NULL
RETURN count(f) AS n
