// Store.apply_clustering: recompute size and updated_at of the clusters in $ids.
UNWIND $ids AS id
MATCH (c:Cluster {id: id})
SET c.size = COUNT { (c)<-[:IN_CLUSTER]-() }, c.updated_at = $now
