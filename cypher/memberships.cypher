// Store.memberships: cluster, status and confidence of the faces in $ids.
UNWIND $ids AS id
MATCH (f:Face {id: id})
OPTIONAL MATCH (f)-[m:IN_CLUSTER]->(c:Cluster)
RETURN f.id AS face_id, c.id AS cluster_id, m.status AS status, m.confidence AS confidence
