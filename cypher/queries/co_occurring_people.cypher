// name: co_occurring_people
// answers: Which people appear together in the same photo? Two faces share a photo when their
//          `image` (else `source`) is the same path. With a cluster given: who appears with that
//          person; without: every pair of people, most shared photos first.
// params:
//   cluster: string = null - a cluster id or person's name; null = all pairs of people
//   limit: int = 50 - at most this many pairs
// example: graphcluster query co_occurring_people -p cluster=Alice
MATCH (f1:Face)-[:IN_CLUSTER]->(c1:Cluster)
WHERE $cluster IS NULL OR c1.id = $cluster OR c1.name = $cluster
WITH f1, c1, coalesce(f1.image, f1.source) AS photo
WHERE photo IS NOT NULL
MATCH (f2:Face)-[:IN_CLUSTER]->(c2:Cluster)
WHERE f2 <> f1 AND c2 <> c1 AND coalesce(f2.image, f2.source) = photo
  AND ($cluster IS NOT NULL OR c1.id < c2.id)
WITH c1, c2, collect(DISTINCT photo) AS photos
RETURN c1.id AS cluster_a, c1.name AS name_a, c2.id AS cluster_b, c2.name AS name_b,
       size(photos) AS shared_photos, photos[..5] AS examples
ORDER BY shared_photos DESC, cluster_a, cluster_b
LIMIT $limit
