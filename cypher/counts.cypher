// Store.counts: the figures of GraphCluster.stats(), as aggregates (no row per face leaves the server).
OPTIONAL MATCH (:Face)-[m:IN_CLUSTER]->(:Cluster)
WITH m.status AS status, count(m) AS n
WITH collect(CASE WHEN status IS NULL THEN null ELSE [status, n] END) AS statuses
RETURN COUNT { (:Face) } AS faces,
       COUNT { (:Cluster) } AS clusters,
       COUNT { (c:Cluster) WHERE c.locked } AS locked,
       statuses,
       COUNT { (:Review {status: $review_status}) } AS open_reviews,
       COUNT { (d:Decision) WHERE NOT d.undone } AS decisions
