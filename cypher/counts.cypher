// Store.counts: the figures of GraphCluster.stats(), as aggregates (no row per face leaves the server).
CALL { MATCH (f:Face) RETURN count(f) AS faces }
CALL { MATCH (c:Cluster) RETURN count(c) AS clusters, count(CASE WHEN c.locked THEN 1 END) AS locked }
CALL { MATCH (:Face)-[m:IN_CLUSTER]->(:Cluster)
       WITH m.status AS status, count(*) AS n
       RETURN collect([status, n]) AS statuses }
CALL { MATCH (r:Review {status: $review_status}) RETURN count(r) AS open_reviews }
CALL { MATCH (d:Decision) WHERE NOT d.undone RETURN count(d) AS decisions }
RETURN faces, clusters, locked, statuses, open_reviews, decisions
