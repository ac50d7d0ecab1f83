// Neo4jVectorIndex.delete: take faces out of the vector index by removing their embedding.
UNWIND $ids AS id
MATCH (f:Face {id: id})
REMOVE f.embedding
