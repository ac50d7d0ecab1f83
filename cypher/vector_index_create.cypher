// Neo4jVectorIndex: Neo4j's own vector index over the Face nodes' embeddings (cosine, exact
// float scores: quantization off). The dimension comes from the first batch.
CREATE VECTOR INDEX face_embedding IF NOT EXISTS
FOR (f:Face) ON f.embedding
OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine', `vector.quantization.enabled`: false}}
