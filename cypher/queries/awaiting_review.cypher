// name: awaiting_review
// answers: What is waiting for a human: the open review questions (merge / face / new_identity,
//          with the faces and clusters they are about) and the faces placed only tentatively
//          (IN_CLUSTER status 'review'). Most urgent first.
// params:
//   limit: int = 50 - at most this many rows
// example: graphcluster query awaiting_review -p limit=10
CALL {
  MATCH (r:Review {status: 'open'})
  OPTIONAL MATCH (r)-[:ABOUT]->(f:Face)
  OPTIONAL MATCH (r)-[:ABOUT]->(c:Cluster)
  RETURN 'question' AS what, r.id AS id, r.kind AS kind, r.priority AS priority,
         collect(DISTINCT f.id) AS faces, collect(DISTINCT c.id) AS clusters
  UNION ALL
  MATCH (f:Face)-[m:IN_CLUSTER {status: 'review'}]->(c:Cluster)
  RETURN 'tentative_face' AS what, f.id AS id, 'face' AS kind, 1.0 - coalesce(m.confidence, 0.0) AS priority,
         [f.id] AS faces, [c.id] AS clusters
}
RETURN what, id, kind, priority, faces, clusters
ORDER BY priority DESC, what, id
LIMIT $limit
