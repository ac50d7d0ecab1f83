// Store.integrity: what a crash or a second writer could leave inconsistent, at most $examples examples of each.
CALL () {
  MATCH (f:Face)-[m:IN_CLUSTER]->(:Cluster)
  WITH f, count(m) AS n WHERE n > 1
  RETURN collect(f.id)[..$examples] AS faces_in_two_clusters
}
CALL () {
  MATCH (c:Cluster)
  WITH c, COUNT { (:Face)-[:IN_CLUSTER]->(c) } AS n
  WHERE n = 0 OR coalesce(c.size, -1) <> n
  RETURN collect(CASE WHEN n = 0 THEN c.id END)[..$examples] AS empty_clusters,
         collect(CASE WHEN n > 0 THEN c.id END)[..$examples] AS cluster_size_wrong
}
CALL () {
  MATCH ()-[l:MUST_LINK|CANNOT_LINK]->()
  OPTIONAL MATCH (d:Decision {id: l.id})
  WITH l, d WHERE d IS NULL OR d.undone
  RETURN collect(l.id)[..$examples] AS link_without_decision
}
CALL () {
  MATCH (d:Decision) WHERE d.kind IN ['same_person', 'different_person'] AND NOT d.undone
  OPTIONAL MATCH (a:Face {id: d.a})
  WITH d, a WHERE a IS NULL OR NOT EXISTS { (a)-[l:MUST_LINK|CANNOT_LINK]-(:Face {id: d.b}) WHERE l.id = d.id }
  RETURN collect(d.id)[..$examples] AS decision_without_link
}
RETURN faces_in_two_clusters, [] AS membership_without_cluster, empty_clusters, cluster_size_wrong,
       link_without_decision, decision_without_link
