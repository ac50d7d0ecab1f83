// Store.unassigned_faces: one page of the faces in no cluster, in id order.
// `f.id IS NOT NULL` lets the planner walk the face_id constraint's index in id order, so the
// scan stops once the page is full instead of sorting every face.
MATCH (f:Face)
WHERE f.id IS NOT NULL AND NOT (f)-[:IN_CLUSTER]->(:Cluster)
WITH f.id AS face_id ORDER BY face_id
SKIP $offset LIMIT $limit
RETURN face_id
