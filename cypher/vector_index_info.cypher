// Neo4jVectorIndex: the vector index's state and options (no row when it does not exist).
SHOW VECTOR INDEXES
YIELD name, state, options, populationPercent
WHERE name = 'face_embedding'
RETURN state, options, populationPercent
