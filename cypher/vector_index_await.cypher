// Neo4jVectorIndex: wait until the vector index is online (populated).
CALL db.awaitIndex('face_embedding', $seconds)
