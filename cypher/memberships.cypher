// Store.memberships: cluster, status and confidence of the faces in $ids, as one record of
// [face id, cluster id, status, confidence] rows (a list keeps the nulls of unassigned faces).
UNWIND $ids AS id
MATCH (f:Face {id: id})
OPTIONAL MATCH (f)-[m:IN_CLUSTER]->(c:Cluster)
RETURN collect([f.id, c.id, m.status, m.confidence]) AS rows
