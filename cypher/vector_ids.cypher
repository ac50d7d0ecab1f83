// Neo4jVectorIndex.ids: the ids of faces that carry an embedding.
MATCH (f:Face)
WHERE f.embedding IS NOT NULL
RETURN f.id AS id
