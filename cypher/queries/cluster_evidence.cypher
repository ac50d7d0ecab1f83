// name: cluster_evidence
// answers: Why the system thinks these faces are one person: the strongest (shortest) and the
//          weakest (longest) SIMILAR links between two members of a cluster. Weak links are where
//          a wrong merge would show.
// params:
//   cluster: string - a cluster id or person's name
//   limit: int = 5 - links of each kind (strongest, weakest)
// example: graphcluster query cluster_evidence -p cluster=c1a2b3 -p limit=3
MATCH (c:Cluster)
WHERE c.id = $cluster OR c.name = $cluster
MATCH (a:Face)-[:IN_CLUSTER]->(c)<-[:IN_CLUSTER]-(b:Face)
MATCH (a)-[s:SIMILAR]->(b)
WITH c, a, b, s
ORDER BY s.distance, a.id, b.id
WITH c, collect({a: a.id, b: b.id, distance: s.distance, weight: s.weight}) AS links
UNWIND range(0, size(links) - 1) AS i
WITH c, links, i
WHERE i < $limit OR i >= size(links) - $limit
RETURN c.id AS cluster, CASE WHEN i < $limit THEN 'strongest' ELSE 'weakest' END AS evidence,
       links[i].a AS face_a, links[i].b AS face_b, links[i].distance AS distance, links[i].weight AS weight
ORDER BY i
