// name: cluster_graph
// answers: A picture of one person for Neo4j Browser: the cluster, its faces, the SIMILAR links
//          among them, and every human decision (MUST_LINK / CANNOT_LINK) touching its faces,
//          with the faces on the other side.
// params:
//   cluster: string - a cluster id or person's name
//   limit: int = 40 - at most this many faces of the cluster (those with human decisions first)
// example: graphcluster query cluster_graph -p cluster=Alice
MATCH (c:Cluster)
WHERE c.id = $cluster OR c.name = $cluster
MATCH (f:Face)-[m:IN_CLUSTER]->(c)
WITH c, f, m, EXISTS { (f)-[:MUST_LINK|CANNOT_LINK]-(:Face) } AS decided
ORDER BY decided DESC, m.confidence DESC, f.id
LIMIT $limit
WITH c, collect(f) AS faces, collect(m) AS memberships
OPTIONAL MATCH (a:Face)-[s:SIMILAR]->(b:Face)
WHERE a IN faces AND b IN faces
WITH c, faces, memberships, collect(s) AS similar
OPTIONAL MATCH (x:Face)-[h:MUST_LINK|CANNOT_LINK]-(y:Face)
WHERE x IN faces
OPTIONAL MATCH (y)-[my:IN_CLUSTER]->(yc:Cluster)
RETURN c AS cluster, faces, memberships, similar, collect(DISTINCT h) AS decisions,
       collect(DISTINCT y) AS other_faces, collect(DISTINCT my) AS other_memberships,
       collect(DISTINCT yc) AS other_clusters
