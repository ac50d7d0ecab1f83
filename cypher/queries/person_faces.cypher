// name: person_faces
// answers: Every face of one person (cluster), found by cluster id or by the person's name,
//          with where each face came from and how sure the system is; most confident first.
// params:
//   cluster: string - a cluster id, or the name a human gave the person
//   limit: int = 500 - at most this many faces
// example: graphcluster query person_faces -p cluster=Alice
MATCH (c:Cluster)
WHERE c.id = $cluster OR c.name = $cluster
MATCH (f:Face)-[m:IN_CLUSTER]->(c)
RETURN c.id AS cluster, c.name AS name, f.id AS face, coalesce(f.image, f.source) AS photo,
       m.status AS status, m.confidence AS confidence
ORDER BY confidence DESC, face
LIMIT $limit
