// Neo4jVectorIndex.drop (GraphCluster.reset): drop the vector index; its dimension is fixed when it is created.
DROP INDEX face_embedding IF EXISTS
