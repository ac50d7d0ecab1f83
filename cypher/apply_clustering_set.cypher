// Store.apply_clustering: the new IN_CLUSTER relationships.
UNWIND $rows AS row
MATCH (f:Face {id: row.face_id})
MATCH (c:Cluster {id: row.cluster_id})
CREATE (f)-[:IN_CLUSTER {status: row.status, confidence: row.confidence, at: $now}]->(c)
