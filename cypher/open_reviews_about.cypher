// Store.open_reviews_about: the open review items naming any of $clusters as cluster_a or
// cluster_b (their ABOUT relationships are gone once the cluster node is deleted). Looked up per
// cluster and side (indexes review_cluster_a / review_cluster_b), not by a scan of the open items.
CALL () {
  UNWIND $clusters AS c
  MATCH (r:Review {cluster_a: c})
  WHERE r.status = 'open'
  RETURN r.id AS id
  UNION
  UNWIND $clusters AS c
  MATCH (r:Review {cluster_b: c})
  WHERE r.status = 'open'
  RETURN r.id AS id
}
RETURN id
ORDER BY id
