// Store.memberships(None): cluster, status and confidence of every face.
MATCH (f:Face)
OPTIONAL MATCH (f)-[m:IN_CLUSTER]->(c:Cluster)
RETURN f.id AS face_id, c.id AS cluster_id, m.status AS status, m.confidence AS confidence
