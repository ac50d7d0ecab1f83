// name: cluster_bridges
// answers: The SIMILAR links between two clusters (the bridges a merge would rest on), shortest
//          first, and whether a human has already said the two faces are different people.
//          Without a second cluster: the bridges from the first cluster to every other one.
// params:
//   cluster_a: string - a cluster id or person's name
//   cluster_b: string = null - a cluster id or person's name; null = every other cluster
//   limit: int = 20 - at most this many links
// example: graphcluster query cluster_bridges -p cluster_a=Alice -p cluster_b=c9f8e7
MATCH (ca:Cluster)
WHERE ca.id = $cluster_a OR ca.name = $cluster_a
MATCH (ca)<-[:IN_CLUSTER]-(a:Face)-[s:SIMILAR]-(b:Face)-[:IN_CLUSTER]->(cb:Cluster)
WHERE cb <> ca AND ($cluster_b IS NULL OR cb.id = $cluster_b OR cb.name = $cluster_b)
RETURN ca.id AS cluster_a, a.id AS face_a, cb.id AS cluster_b, b.id AS face_b,
       s.distance AS distance, s.weight AS weight, EXISTS { (a)-[:CANNOT_LINK]-(b) } AS cannot_link
ORDER BY distance, face_a, face_b
LIMIT $limit
