// name: similar_across_clusters
// answers: Faces similar to a given face that sit in another cluster (or in none): candidates for
//          a wrong split, or look-alikes a human already told apart (cannot_link = true).
// params:
//   face: string - a face id
//   max_distance: float = null - only links at most this long; null = every SIMILAR link
//   limit: int = 20 - at most this many faces
// example: graphcluster query similar_across_clusters -p face=1234
MATCH (f:Face {id: $face})
OPTIONAL MATCH (f)-[:IN_CLUSTER]->(home:Cluster)
MATCH (f)-[s:SIMILAR]-(g:Face)
WHERE $max_distance IS NULL OR s.distance <= $max_distance
OPTIONAL MATCH (g)-[:IN_CLUSTER]->(other:Cluster)
WITH f, home, s, g, other
WHERE home IS NULL OR other IS NULL OR other <> home
RETURN g.id AS face, other.id AS cluster, other.name AS name, s.distance AS distance, s.weight AS weight,
       home.id AS home_cluster, EXISTS { (f)-[:CANNOT_LINK]-(g) } AS cannot_link
ORDER BY distance, face
LIMIT $limit
