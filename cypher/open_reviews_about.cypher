// Store.open_reviews_about: the open review items naming any of $clusters as cluster_a or
// cluster_b (their ABOUT relationships are gone once the cluster node is deleted).
MATCH (r:Review {status: 'open'})
WHERE r.cluster_a IN $clusters OR r.cluster_b IN $clusters
RETURN r.id AS id
ORDER BY id
