// Store.unassigned_faces: one page of the faces in no cluster, in id order.
MATCH (f:Face)
WHERE NOT (f)-[:IN_CLUSTER]->(:Cluster)
WITH f.id AS face_id ORDER BY face_id
SKIP $offset LIMIT $limit
RETURN face_id
